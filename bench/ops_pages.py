"""Benchmark: the operator pages with 5,000 registrations on one event.

    .venv/bin/python bench/ops_pages.py                         # defaults below
    .venv/bin/python bench/ops_pages.py --registrations 5000 --runs 50

1. Drops and recreates its own PostgreSQL database (``--db``, default ``jlf_bench_ops``) and
   migrates it.
2. Builds in bulk: the main event with ``--registrations`` registrations (attendee, a Stripe
   payment for the paid ones, an Acuity booking with intake answers for the booked ones, in
   every status), 4 audit rows per registration (one in ten also merged: a merge row with the
   merged-away phone number, and the merged-away address as an alias), ``--items`` open review
   items of every kind, 4 other events (2 upcoming, 2 past) with 300 registrations each, and
   2,000 inbox rows per provider. Then ``ANALYZE``.
3. For each page: 3 warm-up requests, then ``--runs`` timed requests with Django's test Client
   (the whole middleware stack, a signed-in staff user, template rendering; no network), and
   the number of SQL queries of one request. Prints median, p95 and max per page as a Markdown
   table. Target: every page ≤ 200 ms; the CSV export of all rows is reported for information.
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

from bench.common import recreate_database  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--registrations", type=int, default=5000)
    p.add_argument("--items", type=int, default=60, help="open review items on the main event")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--db", default="jlf_bench_ops")
    p.add_argument("--db-host", default="postgres://postgres@127.0.0.1:5432")
    return p.parse_args()


def build(n_regs: int, n_items: int):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from integrations.models import WebhookEvent
    from registrations.models import (
        Attendee,
        AttendeeAlias,
        AuditLog,
        Booking,
        Event,
        Payment,
        Registration,
        ReviewItem,
        Status,
    )

    now = timezone.now()
    cycle = [
        Status.COMPLETE,
        Status.COMPLETE,
        Status.COMPLETE,
        Status.PAID_ONLY,
        Status.BOOKED_ONLY,
        Status.NEEDS_REVIEW,
        Status.CANCELLED,
        Status.REFUNDED,
    ]

    def event(slug, days, n):
        ev = Event.objects.create(
            name=slug.replace("-", " ").title(),
            slug=slug,
            starts_at=now + timedelta(days=days),
            price=12000,
            capacity=n + 100,
            location="Just Love Forest",
        )
        attendees = Attendee.objects.bulk_create(
            [
                Attendee(email=f"{slug}.{i}@example.org", name=f"Person {i} {slug}", phone=f"+1415555{i % 10000:04d}")
                for i in range(n)
            ],
            batch_size=2000,
        )
        regs = Registration.objects.bulk_create(
            [
                Registration(attendee=a, event=ev, status=cycle[i % len(cycle)], source="webhook", seats=1)
                for i, a in enumerate(attendees)
            ],
            batch_size=2000,
        )
        # created_at is auto_now_add: spread it over 60 days so the chart has a shape.
        for offset in range(60):
            Registration.objects.filter(event=ev, pk__in=[r.pk for r in regs[offset::60]]).update(
                created_at=now - timedelta(days=60 - offset)
            )
        payments, bookings, audits = [], [], []
        for i, r in enumerate(regs):
            st = r.status
            if st in (Status.COMPLETE, Status.PAID_ONLY, Status.NEEDS_REVIEW, Status.REFUNDED):
                payments.append(
                    Payment(
                        checkout_session_id=f"cs_{slug}_{i}",
                        payment_intent_id=f"pi_{slug}_{i}",
                        charge_id=f"ch_{slug}_{i}",
                        event=ev,
                        registration=r,
                        state=Payment.State.PAID,
                        amount=12000,
                        amount_refunded=12000 if st == Status.REFUNDED else 0,
                        currency="usd",
                        quantity=1,
                        email=r.attendee.email,
                        name=r.attendee.name,
                        mapping_keys=[["stripe_payment_link", f"plink_{slug}"]],
                        occurred_at=now - timedelta(days=i % 60),
                    )
                )
            if st in (Status.COMPLETE, Status.BOOKED_ONLY, Status.NEEDS_REVIEW, Status.CANCELLED):
                bookings.append(
                    Booking(
                        acuity_appointment_id=f"{ev.pk}{i:07d}",
                        event=ev,
                        registration=r,
                        email=r.attendee.email,
                        first_name="Person",
                        last_name=str(i),
                        starts_at=ev.starts_at,
                        cancelled=st == Status.CANCELLED,
                        intake={"Dietary needs": ["none", "vegan", "gluten free"][i % 3], "Arriving by": "car"},
                        mapping_keys=[["acuity_appointment_type", f"type_{slug}"]],
                        state_at=now,
                    )
                )
            for action in ("registration.created", "payment.matched", "booking.matched", "registration.status_changed"):
                audits.append(
                    AuditLog(action=action, event=ev, registration=r, object_type="Registration", object_id=str(r.pk))
                )
            if i % 10 == 0:
                # One in ten was merged with an earlier registration of theirs: its address lives
                # on as an alias, its phone number in the merge's audit row (searched for).
                audits.append(
                    AuditLog(
                        action="registration.merged",
                        event=ev,
                        registration=r,
                        object_type="Registration",
                        object_id=str(r.pk),
                        before={
                            "merged_email": f"{slug}.{i}.old@example.org",
                            "merged_phone": f"+1650555{i % 10000:04d}",
                        },
                    )
                )
        AttendeeAlias.objects.bulk_create(
            [
                AttendeeAlias(email=f"{slug}.{i}.old@example.org", attendee=a, reason="merged")
                for i, a in enumerate(attendees)
                if i % 10 == 0
            ],
            batch_size=2000,
        )
        Payment.objects.bulk_create(payments, batch_size=2000)
        Booking.objects.bulk_create(bookings, batch_size=2000)
        AuditLog.objects.bulk_create(audits, batch_size=5000)
        return ev, regs

    main, regs = event("spring-retreat", 20, n_regs)
    for slug, days in (("summer-gathering", 60), ("autumn-retreat", 120), ("winter-day", -30), ("harvest-day", -90)):
        event(slug, days, 300)

    kinds = list(ReviewItem.Kind.values)
    payments = {p.registration_id: p for p in Payment.objects.filter(event=main)}
    items = []
    for i in range(n_items):
        kind = kinds[i % len(kinds)]
        reg = regs[i * 7 % len(regs)]
        items.append(
            ReviewItem(
                kind=kind,
                key=f"bench:{kind}:{i}",
                event=None if kind == ReviewItem.Kind.UNMATCHED_EVENT else main,
                registration=None if kind == ReviewItem.Kind.UNMATCHED_EVENT else reg,
                counterpart=regs[(i * 7 + 1) % len(regs)] if kind == ReviewItem.Kind.SUGGESTED_MATCH else None,
                payment=payments.get(reg.pk) if kind in ("group_payment", "duplicate_payment", "dispute") else None,
                explanation=f"Benchmark item {i} of kind {kind}: a sentence as long as the real explanations are.",
                data={"seats": 3}
                if kind == "group_payment"
                else {"mapping_kind": "stripe_payment_link", "mapping_value": f"plink_x{i}"}
                if kind == "unmatched_event"
                else {},
            )
        )
    ReviewItem.objects.bulk_create(items)
    WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                provider=provider,
                event_id=f"{provider}_{i}",
                body="{}",
                received_at=now - timedelta(minutes=i),
                status="processed",
            )
            for provider in ("stripe", "acuity", "twilio", "resend")
            for i in range(2000)
        ],
        batch_size=4000,
    )
    user = get_user_model().objects.create_user("bench.operator", "op@example.org", "x", is_staff=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return main, regs, user


def measure(client, url, headers, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def once():
        response = client.get(url, headers=headers)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        assert response.status_code == 200, (url, response.status_code)
        return response

    for _ in range(3):
        once()
    with CaptureQueriesContext(connection) as ctx:
        once()
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return queries, statistics.median(times), p95, times[-1]


def main():
    args = parse_args()
    recreate_database(args.db_host, args.db)
    os.environ["DATABASE_URL"] = f"{args.db_host}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jlf.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    event, regs, user = build(args.registrations, args.items)
    print(f"built {args.registrations:,} registrations (+1,200 on 4 other events) in {time.perf_counter() - t0:.1f}s")

    client = Client()
    client.force_login(user)
    slug = event.slug
    htmx = {"HX-Request": "true", "HX-Current-URL": "http://testserver/ops/"}
    mid = regs[len(regs) // 2]
    merged_i = len(regs) // 2 // 10 * 10  # one of those merged with an earlier registration
    pages = [
        ("dashboard", reverse("ops:dashboard"), {}),
        ("event page", reverse("ops:event", args=[slug]), {}),
        (
            "event table: search (htmx)",
            reverse("ops:event", args=[slug]) + "?q=Person+42",
            {**htmx, "HX-Target": "registrations"},
        ),
        (
            "event table: search an earlier address (htmx)",
            reverse("ops:event", args=[slug]) + f"?q={slug}.{merged_i}.old@example.org",
            {**htmx, "HX-Target": "registrations"},
        ),
        (
            "event table: search part of an address (htmx)",
            reverse("ops:event", args=[slug]) + f"?q={slug}.{merged_i + 1}",
            {**htmx, "HX-Target": "registrations"},
        ),
        (
            "event table: search a phone typed with dashes (htmx)",
            reverse("ops:event", args=[slug]) + f"?q=415-555-{merged_i + 1:04d}",
            {**htmx, "HX-Target": "registrations"},
        ),
        (
            "event table: search an earlier phone (htmx)",
            reverse("ops:event", args=[slug]) + f"?q=%28650%29+555-{merged_i:04d}",
            {**htmx, "HX-Target": "registrations"},
        ),
        (
            "event table: status + sort, page 20 (htmx)",
            reverse("ops:event", args=[slug]) + "?status=complete&sort=-created&page=20",
            {**htmx, "HX-Target": "registrations"},
        ),
        ("registration timeline (htmx)", reverse("ops:registration", args=[slug, mid.pk]), htmx),
        ("queue", reverse("ops:queue"), {}),
        ("queue, one event", reverse("ops:queue") + f"?event={slug}", {}),
        ("walk-in form", reverse("ops:walk_in", args=[slug]), {}),
        ("CSV export, all rows (information)", reverse("ops:export", args=[slug, "csv"]), {}),
    ]
    print()
    print(f"| page ({args.registrations:,} registrations, {args.runs} runs) | SQL queries | median | p95 | max |")
    print("| --- | --- | --- | --- | --- |")
    for name, url, headers in pages:
        runs = max(5, args.runs // 6) if "export" in name else args.runs
        queries, median, p95, worst = measure(client, url, headers, runs)
        print(f"| {name} | {queries} | {median:.0f} ms | {p95:.0f} ms | {worst:.0f} ms |")


if __name__ == "__main__":
    main()
