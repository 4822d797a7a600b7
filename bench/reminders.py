"""Benchmark: the reminder scan's selection and claim over 100,000 registrations, 5 % due.

    .venv/bin/python bench/reminders.py                       # defaults below
    .venv/bin/python bench/reminders.py --registrations 200000 --rounds 7

Sends are excluded: the scan runs with ``process="none"`` (select + claim, the part that must
stay cheap however many registrations exist; sending is paced by the providers anyway).

1. Drops and recreates its own PostgreSQL database (``--db``, default ``jlf_reminders_bench``)
   and migrates it.
2. Builds ``--events`` upcoming events (plus 2 that have started) and ``--registrations``
   registrations in bulk, in every state the selection must tell apart:
   5 % due now (one-sided for 48 h, never reminded); 10 % one-sided but too recent; 5 % reminded
   2 h ago (spacing not elapsed); 3 % at the maximum; 2 % opted out; 2 % on started events;
   3 % with a reminder still deferred; the rest complete, in review, cancelled, refunded, pending.
3. ``ANALYZE``, then ``--rounds`` times: ``run_scan(process="none")`` timed (select + claim),
   then the claims of that round are deleted so the next round sees the same data. Prints the
   median and worst time, the number of SQL queries per scan, and a second scan straight after
   a claim (nothing left due). Target: median ≤ 2 s with 5,000 due.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, recreate_database  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--registrations", type=int, default=100_000)
    p.add_argument("--events", type=int, default=40)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--db", default="jlf_reminders_bench")
    p.add_argument("--db-host", default="postgres://postgres@127.0.0.1:5432")
    return p.parse_args()


# share of registrations per kind (the rest: settled states the scan must skip)
MIX = [
    ("due", 0.05),
    ("too_recent", 0.10),
    ("spacing", 0.05),
    ("max_reached", 0.03),
    ("opted_out", 0.02),
    ("started_event", 0.02),
    ("deferred", 0.03),
]
SETTLED = ["complete"] * 12 + ["needs_review", "cancelled", "refunded", "pending"]


def build(n: int, n_events: int):
    from django.utils import timezone

    from notifications.models import Reminder
    from registrations.models import Attendee, Event, Registration, Status

    now = timezone.now()
    common = {"quiet_hours_start": 0, "quiet_hours_end": 0, "price": 12000, "sms_enabled": True}
    events = Event.objects.bulk_create(
        [
            Event(name=f"Bench {i}", slug=f"bench-{i}", starts_at=now + timedelta(days=10 + i), **common)
            for i in range(n_events)
        ]
    )
    started = Event.objects.bulk_create(
        [
            Event(name=f"Started {i}", slug=f"started-{i}", starts_at=now - timedelta(hours=2), **common)
            for i in range(2)
        ]
    )

    kinds = []
    for kind, share in MIX:
        kinds += [kind] * int(n * share)
    i = 0
    while len(kinds) < n:
        kinds.append(SETTLED[i % len(SETTLED)])
        i += 1

    batch = 5000
    counts: dict[str, int] = {}
    for start in range(0, n, batch):
        chunk = kinds[start : start + batch]
        attendees = Attendee.objects.bulk_create(
            [
                Attendee(
                    email=f"person{start + j}@example.org",
                    name=f"Person {start + j}",
                    phone=f"+1415555{(start + j) % 10000:04d}" if (start + j) % 3 == 0 else "",
                    email_opt_out=kind == "opted_out",
                    sms_opt_out=kind == "opted_out",
                )
                for j, kind in enumerate(chunk)
            ]
        )
        regs = []
        for j, (attendee, kind) in enumerate(zip(attendees, chunk, strict=True)):
            one_sided = Status.PAID_ONLY if j % 2 else Status.BOOKED_ONLY
            status = {
                "complete": Status.COMPLETE,
                "needs_review": Status.NEEDS_REVIEW,
                "cancelled": Status.CANCELLED,
                "refunded": Status.REFUNDED,
                "pending": Status.PENDING,
            }.get(kind, one_sided)
            hours = 2 if kind == "too_recent" else 200
            event = started[j % 2] if kind == "started_event" else events[(start + j) % n_events]
            regs.append(
                Registration(
                    attendee=attendee,
                    event=event,
                    reference=f"RB{start + j:015d}",
                    status=status,
                    status_changed_at=now - timedelta(hours=hours),
                )
            )
            counts[kind] = counts.get(kind, 0) + 1
        regs = Registration.objects.bulk_create(regs)
        reminders = []
        for reg, kind in zip(regs, chunk, strict=True):
            if kind == "spacing":
                reminders.append((reg, 1, "sent", 2))
            elif kind == "max_reached":
                reminders += [(reg, 1, "sent", 150), (reg, 2, "sent", 60)]
            elif kind == "deferred":
                reminders.append((reg, 1, "deferred", 72))
            else:
                continue
        Reminder.objects.bulk_create(
            [
                Reminder(
                    registration=reg,
                    number=number,
                    missing="booking" if reg.status == Status.PAID_ONLY else "payment",
                    status=status,
                    claim_token="seed",
                    created_at=now - timedelta(hours=ago),
                    decided_at=now - timedelta(hours=ago),
                    retry_at=now + timedelta(hours=1) if status == "deferred" else None,
                )
                for reg, number, status, ago in reminders
            ]
        )
    return counts


def main():
    args = parse_args()
    os.environ["DATABASE_URL"] = f"{args.db_host}/{args.db}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jlf.settings")
    recreate_database(args.db_host, args.db)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications.models import Reminder
    from notifications.scan import run_scan

    call_command("migrate", verbosity=0)
    t = time.monotonic()
    counts = build(args.registrations, args.events)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(
        f"data: {args.registrations:,} registrations over {args.events} events, built in {time.monotonic() - t:.1f} s"
    )
    print("      " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, PostgreSQL {connection.pg_version // 10000}, "
        f"Python {sys.version.split()[0]}"
    )

    times, queries, claimed = [], [], []
    for _ in range(args.rounds):
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            result = run_scan(process="none")
            took = time.perf_counter() - t
        times.append(took)
        queries.append(len(ctx.captured_queries))
        claimed.append(result.claimed)
        # the next round must see the same data: give back this round's claims
        Reminder.objects.exclude(claim_token="seed").delete()

    run_scan(process="none")  # claim for real, then scan again: nothing is due any more
    with CaptureQueriesContext(connection) as ctx:
        t = time.perf_counter()
        after = run_scan(process="none")
        again = time.perf_counter() - t

    median = statistics.median(times)
    print(
        f"\nscan (select + claim), {args.rounds} rounds: median {median:.3f} s, worst {max(times):.3f} s, "
        f"claimed {claimed[0]:,} per round, {queries[0]} SQL queries per scan"
    )
    print(
        f"scan right after (nothing due): {again:.3f} s, claimed {after.claimed}, {len(ctx.captured_queries)} queries"
    )
    expected = counts.get("due", 0)
    ok = median <= 2.0 and all(c == expected for c in claimed)
    print(
        f"\nRESULT median {median:.2f} s for {expected:,} due of {args.registrations:,} (target ≤ 2 s): "
        + ("OK" if ok else "MISSED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
