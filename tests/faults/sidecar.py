"""Small Django-side jobs the fault tests run as separate processes, against whatever database
DATABASE_URL names (the test database, or a private PostgreSQL that the test restarts):

    python -m tests.faults.sidecar sweep 1.0     # the webhook sweeper, every second, forever
    python -m tests.faults.sidecar seed          # the event the fakes' payment link / type map to

The sweeper is ``integrations.tasks.sweep_webhooks`` — what the every-minute schedule runs in
production — ticking faster. Like the scheduler, it outlives a database outage: an error is
printed and the next tick tries again on a fresh connection.
"""

import os
import sys
import time


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jlf.settings")
    import django

    django.setup()
    from django.db import DatabaseError, connections

    if argv[:1] == ["seed"]:
        from tests.faults.helpers import seed_event

        print(f"seeded event {seed_event().pk}", flush=True)
        return 0
    if argv[:1] == ["sweep"]:
        from integrations.tasks import sweep_webhooks

        every = float(argv[1]) if len(argv) > 1 else 1.0
        while True:
            try:
                queued = sweep_webhooks()
                if queued:
                    print(f"sweep queued {queued}", flush=True)
            except DatabaseError as exc:
                print(f"sweep failed: {type(exc).__name__}: {str(exc).strip()[:200]}", flush=True)
                connections.close_all()
            time.sleep(every)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
