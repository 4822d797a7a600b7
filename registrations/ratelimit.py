"""A token bucket per key, stored in ``RateLimitBucket`` so it works without a shared cache.

Used for "email me a sign-in link": one bucket per client IP and one per salted hash of the
normalised address (the address itself is never stored). A bucket holds at most ``capacity``
tokens and refills continuously at ``capacity`` per ``per_seconds``; each request takes one.

Concurrency:

* PostgreSQL: the bucket row is read with ``SELECT … FOR UPDATE`` inside a transaction, so two
  requests on the same key are serialised and neither can spend a token the other spent.
* SQLite ignores ``select_for_update``. This project opens SQLite transactions with
  ``transaction_mode="IMMEDIATE"`` (jlf/settings.py), which takes the database write lock at
  BEGIN, so the read-modify-write below is serialised there too. On a SQLite connection left in
  the default DEFERRED mode two requests could read the same token count and both be admitted:
  the limit can then be exceeded by the number of truly simultaneous requests, which is
  acceptable for a limit meant to stop floods, not to count exactly.
* The first request on a new key inserts the row; a lost insert race (IntegrityError) is
  retried once as an update of the row the other request created.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jlf.security import client_ip as trusted_client_ip

from .models import RateLimitBucket

HOUR = 60 * 60


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds until one token is available again (0 when allowed)

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def _refill(bucket: RateLimitBucket, capacity: float, per_seconds: float, now: datetime) -> float:
    elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
    return min(float(capacity), bucket.tokens + elapsed * capacity / per_seconds)


def _take(key: str, capacity: int, per_seconds: float, cost: float, now: datetime) -> Decision:
    with transaction.atomic():
        bucket = RateLimitBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            # A new key starts full. Losing the insert race raises IntegrityError, which rolls
            # this transaction back; take() then runs again and finds the other request's row.
            bucket = RateLimitBucket.objects.create(key=key, tokens=float(capacity), updated_at=now)
        tokens = _refill(bucket, capacity, per_seconds, now)
        if tokens >= cost:
            decision = Decision(True, 0)
            tokens -= cost
        else:
            decision = Decision(False, math.ceil((cost - tokens) * per_seconds / capacity))
        RateLimitBucket.objects.filter(pk=bucket.pk).update(tokens=tokens, updated_at=now)
    return decision


def take(
    key: str, capacity: int, per_seconds: float = HOUR, cost: float = 1.0, now: datetime | None = None
) -> Decision:
    """Spend ``cost`` tokens from bucket ``key``; say whether the request may go ahead.

    A refused request spends nothing, so a client that keeps hammering is let in again as soon
    as the bucket has refilled by one token (``retry_after`` says when). A ``capacity`` below 1
    refuses every request.
    """
    if capacity < 1:
        # A bucket that holds nothing admits nobody (and has no refill rate to divide by). The
        # per-hour settings are at least 1 (jlf/settings.py refuses to start otherwise).
        return Decision(False, math.ceil(per_seconds))
    now = now or timezone.now()
    try:
        return _take(key, capacity, per_seconds, cost, now)
    except IntegrityError:
        return _take(key, capacity, per_seconds, cost, now)


def hashed(kind: str, value: str) -> str:
    """A stable, salted key for a value we must not store in clear (an email address)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"ratelimit:{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:40]}"


def client_ip(request) -> str:
    """The client's address as the admin lockout sees it (``jlf.security.client_ip``: exactly
    ``TRUSTED_PROXY_COUNT`` proxies trusted), so both limits key on the same address."""
    return trusted_client_ip(request) or "unknown"
