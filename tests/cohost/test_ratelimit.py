"""The database token bucket behind the sign-in rate limits."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from registrations import ratelimit
from registrations.models import RateLimitBucket


def test_a_full_bucket_admits_capacity_requests_then_refuses(db):
    now = timezone.now()
    results = [ratelimit.take("k", capacity=3, per_seconds=3600, now=now).allowed for _ in range(4)]
    assert results == [True, True, True, False]


def test_a_refusal_says_when_one_more_request_will_be_admitted(db):
    now = timezone.now()
    for _ in range(2):
        ratelimit.take("k", capacity=2, per_seconds=3600, now=now)
    refused = ratelimit.take("k", capacity=2, per_seconds=3600, now=now)
    assert refused.retry_after == 1800 and refused.retry_after_minutes == 30


def test_the_bucket_refills_over_time_and_refusals_cost_nothing(db):
    now = timezone.now()
    for _ in range(5):
        ratelimit.take("k", capacity=2, per_seconds=3600, now=now)  # 2 admitted, 3 refused
    assert not ratelimit.take("k", capacity=2, per_seconds=3600, now=now + timedelta(minutes=29)).allowed
    assert ratelimit.take("k", capacity=2, per_seconds=3600, now=now + timedelta(minutes=30)).allowed


def test_the_bucket_never_holds_more_than_its_capacity(db):
    now = timezone.now()
    ratelimit.take("k", capacity=2, per_seconds=60, now=now)
    later = now + timedelta(days=30)
    assert [ratelimit.take("k", capacity=2, per_seconds=60, now=later).allowed for _ in range(3)] == [
        True, True, False,
    ]  # fmt: skip


def test_keys_are_independent(db):
    now = timezone.now()
    assert ratelimit.take("a", capacity=1, now=now).allowed
    assert ratelimit.take("b", capacity=1, now=now).allowed
    assert not ratelimit.take("a", capacity=1, now=now).allowed


def test_hashed_keys_are_stable_and_do_not_contain_the_value():
    key = ratelimit.hashed("email", "alice@example.net")
    assert key == ratelimit.hashed("email", "alice@example.net")
    assert "alice" not in key and key != ratelimit.hashed("email", "bob@example.net")


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "1.1.1.1", "10.0.0.1"),  # no proxy trusted: the header is ignored (clients can forge it)
        (1, "6.6.6.6, 2.2.2.2", "2.2.2.2"),  # one proxy: the address it appended
        (2, "6.6.6.6, 3.3.3.3, 2.2.2.2", "3.3.3.3"),
        (2, "2.2.2.2", "10.0.0.1"),  # fewer hops than proxies: fall back to the socket address
    ],
)
def test_client_ip_trusts_exactly_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert ratelimit.client_ip(request) == expected


@pytest.mark.skipif(
    not settings.IS_POSTGRES,
    reason="needs concurrent connections with row locks (select_for_update); SQLite's test database "
    "serialises writers differently and the threads would only measure 'database is locked' retries",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_on_postgresql_never_spend_more_than_capacity():
    now = timezone.now()
    results, barrier = [], threading.Barrier(8)

    def worker():
        try:
            barrier.wait()
            results.append(ratelimit.take("race", capacity=5, per_seconds=3600, now=now).allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 3 + [True] * 5
    assert RateLimitBucket.objects.get(key="race").tokens == pytest.approx(0)
