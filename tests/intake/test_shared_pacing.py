"""Stripe/Acuity request pacing shared by every process on PostgreSQL (integrations/clients.py).

Two django-q workers and a reconciliation run each pacing at 20/s would together send 60/s to a
Stripe endpoint that allows 25/s; the shared slot in ``ProviderPace`` keeps their sum at 20/s.
Two ``RateLimiter`` instances in two threads stand for two processes: separate instances, and
separate pacing connections (one per thread).
"""

import logging
import socket
import threading
import time

import pytest
from django.db import connection, connections, transaction

from integrations import clients
from integrations.models import ProviderPace

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the shared pace lives in PostgreSQL; on SQLite the pace is per process by design",
)


@pytest.fixture(autouse=True)
def _fresh_pacing_state(monkeypatch):
    monkeypatch.setattr(clients, "_shared_down_until", 0.0)
    monkeypatch.setattr(clients, "_shared_warned_at", None)
    clients.close_shared_connections()
    yield
    clients.close_shared_connections()


def run_together(*jobs):
    """Run each job (a callable) in its own thread, started at once; return the wall time."""
    barrier = threading.Barrier(len(jobs) + 1)
    errors = []

    def runner(job):
        barrier.wait()
        try:
            job()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.monotonic()
    for t in threads:
        t.join(30)
    took = time.monotonic() - started
    assert not errors, errors
    return took


def calls(limiter, n):
    def job():
        for _ in range(n):
            limiter.wait()

    return job


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_on_one_endpoint_stay_under_the_rate_together():
    first = clients.RateLimiter(20, key="stripe:test.shared")
    second = clients.RateLimiter(20, key="stripe:test.shared")

    took = run_together(calls(first, 15), calls(second, 15))

    # 30 calls at 20/s together: the first goes at once, the 30th no earlier than 29/20 s later.
    # Paced per process each would finish in about 0.7 s.
    assert took >= 1.4, f"30 calls from two processes took {took:.2f}s: more than 20/s together"
    assert ProviderPace.objects.filter(key="stripe:test.shared").exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_different_endpoints_do_not_slow_each_other():
    sessions = clients.RateLimiter(20, key="stripe:test.sessions")
    refunds = clients.RateLimiter(20, key="stripe:test.refunds")

    took = run_together(calls(sessions, 15), calls(refunds, 15))

    assert took < 1.2, f"15 calls per endpoint at 20/s took {took:.2f}s: the endpoints were paced together"
    assert set(ProviderPace.objects.values_list("key", flat=True)) >= {"stripe:test.sessions", "stripe:test.refunds"}


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_caller_inside_a_transaction_does_not_hold_up_other_processes():
    mine = clients.RateLimiter(5, key="acuity:test.tx")
    theirs = clients.RateLimiter(5, key="acuity:test.tx")
    with transaction.atomic():
        mine.wait()  # reserves the slot now; the next one is 0.2 s later
        took = run_together(calls(theirs, 1))
        # Still inside the caller's transaction: the other process got its slot without waiting
        # for this commit (a row lock held until then would block it up to the statement timeout).
    assert took < 1.0, f"another process waited {took:.2f}s for this transaction"


@pytest.mark.django_db(transaction=True)
def test_one_process_is_paced_on_any_database():
    limiter = clients.RateLimiter(20, key="acuity")
    started = time.monotonic()
    for _ in range(11):
        limiter.wait()
    assert time.monotonic() - started >= 0.45


@pytest.mark.skipif(connection.vendor == "postgresql", reason="what SQLite does instead of the shared pace")
@pytest.mark.django_db(transaction=True)
def test_sqlite_paces_in_process_and_leaves_the_table_alone():
    first = clients.RateLimiter(20, key="stripe:test.shared")
    second = clients.RateLimiter(20, key="stripe:test.shared")

    took = run_together(calls(first, 11), calls(second, 11))

    assert 0.45 <= took < 1.0  # each instance paced on its own
    assert not ProviderPace.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_test_and_benchmark_rates_cost_no_database_round_trip(monkeypatch):
    def no_round_trip(*args, **kwargs):
        raise AssertionError("a database round trip for a 1000/s pace")

    monkeypatch.setattr(clients, "_shared_slot", no_round_trip)
    for rate in (0, 1000, 10000):
        limiter = clients.RateLimiter(rate, key="stripe:test.fast")
        for _ in range(20):
            limiter.wait()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_calls_go_ahead_paced_in_process_when_the_pace_store_is_unreachable(monkeypatch, caplog):
    db = connections["default"]
    real_params = db.get_connection_params
    attempts = []

    def unreachable():
        attempts.append(1)
        return {**real_params(), "host": "127.0.0.1", "port": closed_port()}

    monkeypatch.setattr(db, "get_connection_params", unreachable)
    limiter = clients.RateLimiter(20, key="stripe:test.down")

    with caplog.at_level(logging.WARNING, logger="integrations.clients"):
        started = time.monotonic()
        for _ in range(11):
            limiter.wait()
        took = time.monotonic() - started

    assert took >= 0.45, "calls were not paced while the pace store was down"
    assert took < 2.0, "the calls waited for the pace store"
    warnings = [r for r in caplog.records if "pacing" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert attempts == [1], "it kept trying to connect on every call"

    # Back up: once the retry pause is over, the next call reserves its slot in the database again.
    monkeypatch.setattr(db, "get_connection_params", real_params)
    monkeypatch.setattr(clients, "_shared_down_until", 0.0)
    limiter.wait()
    assert ProviderPace.objects.filter(key="stripe:test.down").exists()
