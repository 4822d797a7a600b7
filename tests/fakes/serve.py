"""Run the fake Stripe and Acuity servers until interrupted (used by `./dev run` for the demo, so
the demo never reaches a real provider).

    python -m tests.fakes.serve --stripe-port 8701 --acuity-port 8702 [--mirror-db]

``--mirror-db``: the fake Stripe also knows the Stripe payments already in the database (the demo's),
so an operator trying a refund in the demo gets one instead of "No such payment_intent".
"""

import argparse
import itertools
import os
import signal
import threading
import time

from .acuity import FakeAcuity
from .stripe import FakeStripe


def mirror_stripe_payments(stripe: FakeStripe) -> int:
    """Give the fake Stripe a paid (or still clearing) Checkout Session, payment intent and charge
    for every Stripe payment in the database, under the same ids. Returns how many."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jlf.settings")
    import django

    django.setup()
    from registrations.models import Payment

    count = 0
    rows = (
        Payment.objects.filter(method=Payment.Method.STRIPE, state__in=[Payment.State.PAID, Payment.State.UNPAID])
        .exclude(checkout_session_id="")
        .exclude(payment_intent_id="")
    )
    for p in rows.order_by("pk"):
        if p.checkout_session_id in stripe.sessions:
            continue
        link = next((v for k, v in p.mapping_keys or [] if k == "stripe_payment_link"), None)
        stripe.add_session(
            session_id=p.checkout_session_id,
            payment_intent_id=p.payment_intent_id,
            charge_id=p.charge_id or None,
            email=p.email,
            name=p.name,
            phone=p.phone or None,
            payment_link=link,
            amount=p.amount or 0,
            quantity=p.quantity or 1,
            currency=p.currency or "usd",
            payment_status="paid" if p.state == Payment.State.PAID else "unpaid",
            created=int(p.occurred_at.timestamp()) if p.occurred_at else None,
        )
        count += 1
    return count


def number_stripe_ids_from_now(now: float | None = None) -> None:
    """Number the fake Stripe's ids (re_…, evt_…, cs_…) on from the time it starts, in
    milliseconds: the demo's database keeps the ids of earlier runs, and a fake counting from 1
    again handed a new refund the id of an old one (and a new event the id of one already
    received). The tests' fakes keep counting from 1."""
    from . import stripe as stripe_fake

    stripe_fake._ids = itertools.count(int((time.time() if now is None else now) * 1000))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stripe-port", type=int, default=8701)
    parser.add_argument("--acuity-port", type=int, default=8702)
    parser.add_argument("--acuity-user", default="12345")
    parser.add_argument("--acuity-key", default="acuity-demo-key")
    parser.add_argument("--mirror-db", action="store_true", help="serve the database's Stripe payments too")
    args = parser.parse_args()
    number_stripe_ids_from_now()
    stripe = FakeStripe().start(args.stripe_port)
    if args.mirror_db:
        try:
            print(f"fake Stripe knows the {mirror_stripe_payments(stripe)} Stripe payments of the database", flush=True)
        except Exception as exc:  # the demo runs on without them: only refunds of its payments fail
            print(f"fake Stripe could not read the database's Stripe payments ({exc}); it serves none", flush=True)
    acuity = FakeAcuity(args.acuity_user, args.acuity_key).start(args.acuity_port)
    print(f"fake Stripe on {stripe.url}, fake Acuity on {acuity.base_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
