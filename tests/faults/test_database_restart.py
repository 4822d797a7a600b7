"""Fault: PostgreSQL is stopped and started again while deliveries keep arriving.

Runs on a private PostgreSQL cluster (initdb in a temp dir, its own port), never the machine's
shared server: gunicorn (the production web server and config), a qcluster worker and the
sweeper all use it. A thread posts signed deliveries the whole time. While the database is
down the webhook views must answer 5xx — so the provider retries — and never 4xx (which tells a
provider to give up); every delivery answered 2xx must be processed after recovery, and the
5xx ones, delivered again as the provider would, too.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter

import psycopg
import pytest
import requests
from django.conf import settings

from .conftest import requires_postgres
from .helpers import (
    Deliveries,
    PrivatePostgres,
    app_env,
    free_port,
    new_person,
    start_sweeper,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.slow, requires_postgres]


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def inbox(url: str) -> dict[str, str]:
    return dict(query(url, "SELECT event_id, status FROM integrations_webhookevent"))


def run(args: list[str], env: dict, timeout: float = 180) -> None:
    result = subprocess.run(args, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"


def healthy(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def is_5xx(answer) -> bool:
    return isinstance(answer, int) and 500 <= answer < 600


def test_database_restarted_while_deliveries_arrive_loses_nothing_that_was_accepted(
    processes, fake_stripe, fake_acuity
):
    reason = PrivatePostgres.unavailable_reason()
    if reason:
        pytest.skip(f"no private PostgreSQL for the restart test: {reason}")
    pg = PrivatePostgres()
    stop_posting = threading.Event()
    poster = None
    try:
        pg.create()
        env = app_env(pg.url, settings.SECRET_KEY, stripe=fake_stripe, acuity=fake_acuity, WEB_CONCURRENCY=2)
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
        run([sys.executable, "-m", "tests.faults.sidecar", "seed"], env)
        port = free_port()
        gunicorn = [sys.executable, "-m", "gunicorn", "jlf.wsgi", "--config", "gunicorn.conf.py"]
        web = processes.start("gunicorn", [*gunicorn, "--bind", f"127.0.0.1:{port}"], env)
        worker = start_worker(processes, env)
        sweeper = start_sweeper(processes, env)
        base_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: healthy(base_url), 60, "gunicorn to answer /healthz", watch=[web])
        post = Deliveries(base_url, fake_stripe, fake_acuity, timeout=20)

        def keep_posting():
            i = 0
            while not stop_posting.is_set():
                person = new_person()
                post.post(post.new_acuity(person) if i % 4 == 3 else post.new_stripe(person))
                i += 1
                stop_posting.wait(0.05)

        poster = threading.Thread(target=keep_posting, name="provider", daemon=True)
        poster.start()

        def answers_since(t0: float, wanted) -> int:
            return sum(1 for t, _, answer in list(post.log) if t >= t0 and wanted(answer))

        wait_until(lambda: answers_since(0, lambda a: a == 200) >= 10, 60, "deliveries to be accepted", watch=[web])

        # The database goes away (fast shutdown: open connections are cut) and stays away a while.
        pg.stop(mode="fast")
        down_at = time.monotonic()
        wait_until(lambda: answers_since(down_at, is_5xx) >= 5, 60, "5xx answers while the database is down")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - down_at)))
        pg.start()
        up_at = time.monotonic()
        wait_until(
            lambda: answers_since(up_at, lambda a: a == 200) >= 10,
            60,
            "deliveries to be accepted again after the restart",
            watch=[web],
        )
        stop_posting.set()
        poster.join(timeout=30)

        deliveries = post.snapshot()
        answers = Counter(answer for d in deliveries for answer in d.answers)
        unexpected = {answer: n for answer, n in answers.items() if answer != 200 and not is_5xx(answer)}
        assert not unexpected, f"only 2xx or 5xx, never a 4xx or no answer, during a restart: {answers}"
        assert sum(n for code, n in answers.items() if is_5xx(code)) >= 5
        accepted = [d for d in deliveries if d.last == 200]
        refused = [d for d in deliveries if is_5xx(d.last)]

        # Every accepted delivery is processed once the database is back.
        def all_processed(items) -> bool:
            statuses = inbox(pg.url)
            return all(statuses.get(d.event_id) == "processed" for d in items)

        wait_until(lambda: all_processed(accepted), 120, "every 2xx delivery to be processed", watch=[worker, sweeper])

        # The provider retries what got a 5xx (Stripe re-signs each retry): accepted and processed.
        assert [post.post(d) for d in refused] == [200] * len(refused)
        wait_until(lambda: all_processed(deliveries), 120, "the redelivered ones to be processed", watch=[worker])

        statuses = inbox(pg.url)
        assert set(statuses) == {d.event_id for d in deliveries}
        assert set(statuses.values()) == {"processed"}
        sessions = sorted(d.object_id for d in deliveries if d.provider == "stripe")
        appointments = sorted(d.object_id for d in deliveries if d.provider == "acuity")
        assert sorted(r[0] for r in query(pg.url, "SELECT checkout_session_id FROM registrations_payment")) == sessions
        assert (
            sorted(r[0] for r in query(pg.url, "SELECT acuity_appointment_id FROM registrations_booking"))
            == appointments
        )
        recorded = query(
            pg.url,
            "SELECT action, object_id, count(*) FROM registrations_auditlog "
            "WHERE action IN ('payment.recorded', 'booking.recorded') GROUP BY 1, 2",
        )
        assert {n for _, _, n in recorded} == {1}, "each payment and booking recorded exactly once"
        assert Counter(action for action, _, _ in recorded) == Counter(
            {"payment.recorded": len(sessions), "booking.recorded": len(appointments)}
        )
        print(f"\ndatabase restart: {len(deliveries)} deliveries, answers {dict(answers)}, {len(refused)} redelivered")
    finally:
        stop_posting.set()
        if poster is not None:
            poster.join(timeout=30)
        processes.stop_all()
        pg.destroy()
