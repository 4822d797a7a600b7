"""Run the fake Stripe and Acuity servers until interrupted (used by `./dev run` for the demo, so
the demo never reaches a real provider).

    python -m tests.fakes.serve --stripe-port 8701 --acuity-port 8702
"""

import argparse
import signal
import threading

from .acuity import FakeAcuity
from .stripe import FakeStripe


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stripe-port", type=int, default=8701)
    parser.add_argument("--acuity-port", type=int, default=8702)
    parser.add_argument("--acuity-user", default="12345")
    parser.add_argument("--acuity-key", default="acuity-demo-key")
    args = parser.parse_args()
    stripe = FakeStripe().start(args.stripe_port)
    acuity = FakeAcuity(args.acuity_user, args.acuity_key).start(args.acuity_port)
    print(f"fake Stripe on {stripe.url}, fake Acuity on {acuity.base_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
