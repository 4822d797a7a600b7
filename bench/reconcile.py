"""Benchmark: reconcile 10,000 Stripe sessions and 10,000 Acuity appointments into an empty
PostgreSQL database, then again with nothing changed.

    .venv/bin/python bench/reconcile.py                      # defaults below
    .venv/bin/python bench/reconcile.py --profile /tmp/recon.prof   # cProfile of the first run

1. Drops and recreates its own database (``--db``, default ``jlf_recon_bench``) and migrates it.
2. Starts the fake Stripe and Acuity servers in this process (they answer at once) and fills
   them: ``--events`` events, each with one payment link and one appointment type; sessions
   created over the last two days; appointments spread over ``--dates`` dates per event in the
   coming months. 85 % of people both pay and book, the rest only one of the two.
3. Runs a bare baseline in the same database (``bare_baseline``): the same listings through the
   same clients and pacing, each record stored as one row of raw JSON in its own transaction, no
   matching. It is the floor of any design that stores records one by one on this host, and the
   first run is reported as a ratio of it (``--no-baseline`` skips it).
4. Runs ``integrations.reconcile.reconcile`` twice with the REAL client rate limits
   (STRIPE_REQUESTS_PER_SECOND=20, ACUITY_REQUESTS_PER_SECOND=8) and prints the timings, the
   API calls per endpoint, and the counts. Targets: first run ≤ 60 s, unchanged re-run ≤ 20 s.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, recreate_database  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--appointments", type=int, default=10_000)
    p.add_argument("--events", type=int, default=10)
    p.add_argument("--dates", type=int, default=50, help="appointment dates per event")
    p.add_argument("--db", default="jlf_recon_bench")
    p.add_argument("--db-host", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--no-baseline", action="store_true", help="skip the bare baseline")
    p.add_argument("--profile", metavar="FILE", help="cProfile the first run (implies --processes 1)")
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        help="RECONCILE_APPLY_PROCESSES for the runs (default: the setting's default, one per core up to 4)",
    )
    return p.parse_args()


_faker = None


def person(i: int) -> tuple[str, str, str]:
    """Realistic names (Faker, seeded per person: the same person gets the same name in both
    providers), so duplicate and similar names occur about as often as in real life."""
    global _faker
    if _faker is None:
        from faker import Faker

        _faker = Faker("en_US")
    _faker.seed_instance(i)
    return _faker.first_name(), _faker.last_name(), f"person{i}@example.org"


def fill(stripe, acuity, events: int, n_sessions: int, n_appts: int, dates: int):
    rnd = random.Random(7)
    tz = ZoneInfo("America/Los_Angeles")
    now = int(time.time())
    # people 0 … n: the first n_sessions pay, the last n_appts book; the middle does both.
    only_one = max(n_sessions, n_appts) * 15 // 100
    paying = range(n_sessions)
    booking = range(n_sessions - (n_appts - only_one), n_sessions + only_one)
    for i in paying:
        first, last, email = person(i)
        e = i % events
        stripe.add_session(
            email=email,
            name=f"{first} {last}",
            payment_link=f"plink_bench_{e}",
            price_id=f"price_bench_{e}",
            created=now - rnd.randint(60, 2 * 86400),
        )
    start = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=7)
    for i in booking:
        first, last, email = person(i)
        e = i % events
        d = rnd.randrange(dates)
        acuity.add_appointment(
            email=email,
            first_name=first,
            last_name=last,
            appointment_type_id=4_000_000 + e,
            calendar_id=6001,
            starts_at=start + timedelta(days=d * 3, hours=9 + rnd.randrange(8)),
            intake={4001: ("Dietary needs", rnd.choice(["none", "vegan", "gluten-free"]))},
        )


def bare_baseline(since) -> tuple[int, float, float]:
    """The same listings as the run (same clients, same pacing, both providers read in background
    threads as the run reads them), and for each record one INSERT of its raw JSON into a bare
    table, each in its own transaction: what storing the records costs on this host before any
    matching. Returns (records stored, seconds, CPU seconds of this process)."""
    import json

    from django.db import connection, transaction

    from integrations.clients import AcuityClient, stripe_client
    from integrations.reconcile import make_plan
    from integrations.reconcile_sources import AcuityWalker, Prefetch, stripe_session_pages

    with connection.cursor() as c:
        c.execute("DROP TABLE IF EXISTS bench_bare")
        c.execute(
            "CREATE TABLE bench_bare (id bigserial PRIMARY KEY, provider text NOT NULL, key text NOT NULL, "
            "body jsonb NOT NULL, UNIQUE (provider, key))"
        )
    t, cpu = time.monotonic(), time.process_time()
    plan = make_plan(since=since)

    def stripe_pages():
        client = stripe_client()
        for link in plan.links:
            for page in stripe_session_pages(client, payment_link=link, created_gte=plan.stripe_created_gte):
                yield "stripe", page

    def acuity_pages():
        walker = AcuityWalker(AcuityClient())
        for type_id in plan.types:
            lo, hi = plan.acuity_windows[type_id]
            for kind, payload in walker.walk(type_id, lo, hi):
                if kind == "page":
                    yield "acuity", payload

    stored = 0
    for stream in [Prefetch(stripe_pages(), name="bare-stripe"), Prefetch(acuity_pages(), name="bare-acuity")]:
        for provider, page in stream:
            for record in page:
                with transaction.atomic(), connection.cursor() as c:
                    c.execute(
                        "INSERT INTO bench_bare (provider, key, body) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                        [provider, str(record.get("id")), json.dumps(record)],
                    )
                    stored += c.rowcount
    return stored, time.monotonic() - t, time.process_time() - cpu


def main():
    args = parse_args()
    os.environ["DATABASE_URL"] = f"{args.db_host}/{args.db}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jlf.settings")
    for key in ("STRIPE_REQUESTS_PER_SECOND", "ACUITY_REQUESTS_PER_SECOND"):
        os.environ.pop(key, None)  # the real limits, never raised for the benchmark
    if args.profile:
        args.processes = 1  # cProfile sees this process only
    if args.processes is not None:
        os.environ["RECONCILE_APPLY_PROCESSES"] = str(args.processes)

    recreate_database(args.db_host, args.db)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    from integrations.reconcile import reconcile
    from integrations.reconcile_report import totals
    from integrations.reconcile_sources import parse_since
    from registrations.models import AuditLog, Booking, Event, EventMapping, Payment, Registration
    from tests.fakes import FakeAcuity, FakeStripe

    stripe, acuity = FakeStripe().start(), FakeAcuity().start()
    settings.STRIPE_API_BASE, settings.STRIPE_SECRET_KEY = stripe.url, "sk_test_bench"
    settings.ACUITY_API_BASE, settings.ACUITY_USER_ID, settings.ACUITY_API_KEY = (
        acuity.base_url,
        acuity.user_id,
        acuity.api_key,
    )
    assert settings.STRIPE_REQUESTS_PER_SECOND == 20.0 and settings.ACUITY_REQUESTS_PER_SECOND == 8.0

    t = time.monotonic()
    fill(stripe, acuity, args.events, args.sessions, args.appointments, args.dates)
    starts = datetime.now(ZoneInfo("UTC")) + timedelta(days=7)
    for e in range(args.events):
        event = Event.objects.create(name=f"Bench {e}", slug=f"bench-{e}", starts_at=starts, price=12000)
        EventMapping.objects.create(kind="stripe_payment_link", value=f"plink_bench_{e}", event=event)
        EventMapping.objects.create(kind="acuity_appointment_type", value=str(4_000_000 + e), event=event)
    print(
        f"data: {len(stripe.sessions):,} sessions, {len(acuity.appointments):,} appointments, "
        f"{args.events} events ({time.monotonic() - t:.1f} s to build)"
    )
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}, PostgreSQL {connection.pg_version // 10000}, "
        f"Python {sys.version.split()[0]}"
    )
    processes = settings.RECONCILE_APPLY_PROCESSES
    print(
        f"apply processes: {processes}"
        + (" (the SQL queries below are this process's only, not the apply processes')" if processes > 1 else "")
    )

    baseline = None
    if not args.no_baseline:
        stored, took, cpu = bare_baseline(parse_since("3d"))
        baseline = took
        print(
            f"\n== bare baseline (list the same records, store each as one JSON row in its own transaction, "
            f"one process): {took:.1f} s (CPU {cpu:.1f} s), {stored:,} records stored"
        )
        stripe.reset_requests()
        acuity.reset_requests()

    results = []
    for label in ("first run (empty database)", "re-run (nothing changed)"):
        stripe.reset_requests()
        acuity.reset_requests()
        queries = [0]

        def count_queries(execute, sql, params, many, context, queries=queries):
            queries[0] += 1
            return execute(sql, params, many, context)

        wrapper = connection.execute_wrapper(count_queries)
        wrapper.__enter__()
        t, cpu = time.monotonic(), time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        if args.profile and not results:
            import cProfile

            prof = cProfile.Profile()
            run = prof.runcall(reconcile, since=parse_since("3d"), options={"since": "3d"}, processes=1)
            prof.dump_stats(args.profile)
        else:
            run = reconcile(since=parse_since("3d"), options={"since": "3d"}, processes=processes)
        took, cpu = time.monotonic() - t, time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        wrapper.__exit__(None, None, None)
        calls = {
            "stripe sessions": stripe.count("GET", r"^/v1/checkout/sessions$"),
            "stripe line items": stripe.count("GET", r"/line_items$"),
            "stripe refunds": stripe.count("GET", r"^/v1/refunds$"),
            "stripe disputes": stripe.count("GET", r"^/v1/disputes$"),
            "acuity appointments": acuity.count("GET", r"/appointments$"),
            "acuity calendars": acuity.count("GET", r"/calendars$"),
        }
        results.append((label, took, run, calls))
        per = queries[0] / max(totals(run)["seen"], 1)
        print(
            f"\n== {label}: {took:.1f} s (CPU of this process {cpu:.1f} s, of the apply processes "
            f"{child_cpu:.1f} s), status {run.status}, "
            f"{queries[0]:,} SQL queries ({per:.1f} per record)"
        )
        print("   API calls: " + ", ".join(f"{k} {v}" for k, v in calls.items()))
        print(f"   totals: {totals(run)}")
        for error in run.errors[:5]:
            print(f"   error: {error}")
    print(
        f"\nrows: {Payment.objects.count():,} payments, {Booking.objects.count():,} bookings, "
        f"{Registration.objects.count():,} registrations, {AuditLog.objects.count():,} audit rows"
    )
    first, second = results[0][1], results[1][1]
    print(f"\nRESULT first run {first:.1f} s (target ≤ 60), re-run {second:.1f} s (target ≤ 20)")
    if baseline:
        print(
            f"       first run = {first / baseline:.1f}× the bare baseline ({baseline:.1f} s)"
            + (", which itself misses 60 s on this host" if baseline > 60 else "")
        )
    stripe.stop()
    acuity.stop()
    return 0 if first <= 60 and second <= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
