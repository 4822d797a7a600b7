"""Outbound API clients for Stripe (official SDK) and Acuity (requests).

Both read their base URL from settings, so tests, the demo and the benchmarks point them at the
local fakes in ``tests/fakes``. Both stay under the providers' rate limits (Stripe: 25 requests/s
per endpoint; Acuity: 10 requests/s, across all processes on PostgreSQL: ``RateLimiter``) and back
off on 429 honouring ``Retry-After`` — the Stripe SDK retries connection errors and 5xx itself
(``max_network_retries``) but never a 429.

The back-off never sleeps longer than the caller can afford: one call waits at most
``default_wait_budget()`` seconds in all (a django-q2 task is killed at Q_CLUSTER["timeout"]), or
what a ``patience(...)`` block allows (the reconciliation). A provider asking for a longer wait
gets a temporary ``ProviderError`` carrying its ``retry_after``: the caller tries again later.
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import stripe
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from jlf.tasks import task_timeout

log = logging.getLogger(__name__)


class ProviderError(Exception):
    """A provider call failed. ``permanent`` errors (404, 401, 403, 400, a reused idempotency key)
    are not worth retrying: no later attempt gets another answer."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
        reused_key: bool = False,
    ):
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status
        self.permanent = permanent
        # Seconds the provider asked us to wait (Retry-After) when that was more than the call
        # could wait: the earliest a retry is worth making.
        self.retry_after = retry_after
        # Stripe refused an idempotency key first used with other parameters: that first request
        # stands (for a refund, money may well have moved), so "nothing happened" would be wrong.
        self.reused_key = reused_key


class NotFound(ProviderError):
    def __init__(self, provider: str, message: str):
        super().__init__(provider, message, status=404, permanent=True)


class RateLimiter:
    """Thread-safe pacing: at most ``rate`` calls per second.

    With a ``key`` on PostgreSQL the pace is shared by every process (django-q workers, a
    reconciliation run): each ``wait()`` reserves the next free slot for the key in
    ``ProviderPace`` with one autocommit statement on a connection of its own, so the providers'
    limits hold for all processes together. Without a key, on SQLite, at rates too high to be worth
    a database round trip (tests, benchmarks), or while that database cannot be reached, the pace
    is per process (the 429 backoff covers the rest).
    """

    def __init__(self, rate: float, key: str | None = None):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.key = key[:100] if key else None
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self):
        if not self.interval:
            return
        if self.key is not None and self.interval > _SHARED_MIN_INTERVAL:
            delay = _shared_slot(self.key, self.interval)
            if delay is not None:
                if delay > 0:
                    time.sleep(delay)
                return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)


# --- Pacing shared across processes (PostgreSQL) -------------------------------------------------
# Below this interval (over 1000 calls/s: the rates tests and benchmarks set) a database round trip
# per call costs more than it is worth, and no provider allows such rates anyway.
_SHARED_MIN_INTERVAL = 0.001
# A reservation never waits longer than this (a clock step back on the database host would
# otherwise leave a row far in the future); real queues are a few callers deep.
_SHARED_MAX_WAIT = 10.0
_SHARED_CONNECT_TIMEOUT = 2  # seconds (libpq's minimum)
_SHARED_RETRY_AFTER = 5.0  # after a failed connect, pace per process for this long before trying again
_SHARED_WARN_EVERY = 60.0

# The database clock is the one clock. The row is locked only for this one autocommit statement.
_RESERVE_SQL = """
WITH now AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS t)
INSERT INTO {table} AS p (key, next_at) SELECT %(key)s, t + %(iv)s FROM now
ON CONFLICT (key) DO UPDATE
   SET next_at = LEAST(GREATEST(p.next_at, (SELECT t FROM now)), (SELECT t FROM now) + %(max_wait)s) + %(iv)s
RETURNING p.next_at - %(iv)s - (SELECT t FROM now)
"""

_shared_local = threading.local()
_shared_conns: weakref.WeakSet[_SharedConnection] = weakref.WeakSet()
_shared_state_lock = threading.Lock()
_shared_down_until = 0.0  # time.monotonic()
_shared_warned_at: float | None = None


class _SharedConnection:
    """One thread's pacing connection (psycopg, autocommit), never the caller's Django connection:
    the caller may be inside a transaction, and a row lock held until its commit would serialise
    every other process's API calls."""

    def __init__(self, conn):
        self.conn = conn
        self.inherited = False
        with _shared_state_lock:
            _shared_conns.add(self)

    def close(self):
        if self.inherited:
            return
        try:
            self.conn.close()
        except Exception:  # closing a broken connection must not raise
            pass

    def __del__(self):  # the thread ended
        self.close()


def _shared_connect(db) -> _SharedConnection:
    import psycopg

    params = db.get_connection_params()  # the test database in tests
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    params["connect_timeout"] = _SHARED_CONNECT_TIMEOUT
    params.setdefault("application_name", "jlf-pacing")
    conn = psycopg.connect(**params, autocommit=True)
    try:
        conn.execute("SET statement_timeout = 2000")
    except Exception:
        conn.close()
        raise
    return _SharedConnection(conn)


def _shared_failed(exc: Exception, *, connecting: bool) -> None:
    global _shared_down_until, _shared_warned_at
    now = time.monotonic()
    with _shared_state_lock:
        if connecting:
            _shared_down_until = now + _SHARED_RETRY_AFTER
        warn = _shared_warned_at is None or now - _shared_warned_at >= _SHARED_WARN_EVERY
        if warn:
            _shared_warned_at = now
    if warn:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        log.warning(
            "shared API pacing unavailable, pacing per process (%s: %s); further failures in the next %.0fs "
            "are not logged",
            type(exc).__name__,
            detail,
            _SHARED_WARN_EVERY,
        )


def _shared_slot(key: str, interval: float) -> float | None:
    """Reserve the next slot for ``key``: seconds to wait, or None to pace in this process."""
    from django.db import connections

    db = connections["default"]
    if db.vendor != "postgresql" or time.monotonic() < _shared_down_until:
        return None
    holder = getattr(_shared_local, "conn", None)
    connecting = holder is None or holder.inherited or holder.conn.closed
    try:
        if connecting:
            _shared_local.conn = None
            holder = _shared_local.conn = _shared_connect(db)
            connecting = False
        from integrations.models import ProviderPace

        sql = _RESERVE_SQL.format(table=db.ops.quote_name(ProviderPace._meta.db_table))
        row = holder.conn.execute(sql, {"key": key, "iv": interval, "max_wait": _SHARED_MAX_WAIT}).fetchone()
        return max(0.0, float(row[0]))
    except Exception as exc:  # an API call never fails because pacing storage is down
        if holder is not None:
            holder.close()
        _shared_local.conn = None
        _shared_failed(exc, connecting=connecting)
        return None


_shared_inherited: list[_SharedConnection] = []


def _shared_after_fork_in_child() -> None:
    # A forked child (a django-q worker) must not use its parent's connections, nor close them:
    # closing sends the server a goodbye on the parent's socket. Keep them, unused, and reconnect.
    with _shared_state_lock:
        for holder in list(_shared_conns):
            holder.inherited = True
            _shared_inherited.append(holder)
        _shared_conns.clear()
    _shared_local.conn = None


os.register_at_fork(after_in_child=_shared_after_fork_in_child)


def close_shared_connections() -> None:
    """Close every thread's pacing connection (each reconnects on its next call)."""
    with _shared_state_lock:
        holders = list(_shared_conns)
    for holder in holders:
        holder.close()


@receiver(setting_changed)
def _pacing_settings_changed(setting, **kwargs):
    # Settings change only in tests: close the pacing connections there so a later rate or test
    # database starts clean and the test database can be dropped at the end of the run.
    if setting in ("DATABASES", "STRIPE_REQUESTS_PER_SECOND", "ACUITY_REQUESTS_PER_SECOND"):
        close_shared_connections()


# --- Back-off within the caller's deadline -----------------------------------------------------
def _retry_after(headers, default: float) -> tuple[float, bool]:
    """The wait a 429/5xx answer asks for: (seconds, True) from its ``Retry-After`` (seconds or an
    HTTP date), else (``default``, False)."""
    raw = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if raw is None or str(raw).strip() == "":
        return default, False
    try:
        value = float(raw)
    except (TypeError, ValueError):
        try:
            value = parsedate_to_datetime(str(raw)).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return default, False
    if not math.isfinite(value):
        return default, False
    return max(value, 0.0), True


@dataclass(frozen=True)
class _Patience:
    budget: float
    on_wait: Callable[[float, str], None] | None = None


_patience: contextvars.ContextVar[_Patience | None] = contextvars.ContextVar("provider_patience", default=None)


def default_wait_budget() -> float:
    """Seconds one provider call may sleep on back-off in all, outside a ``patience`` block: a
    sixth of Q_CLUSTER["timeout"] (10 s at the default 60 s). Calls run in django-q2 tasks (webhook
    processing: up to two Stripe calls per delivery, each with its own HTTP timeouts; reminders'
    live checks), which are killed at that timeout, or in web requests; a task killed mid-call is
    only recovered later by the sweeper, where a temporary error is retried with backoff."""
    return task_timeout() / 6


@contextmanager
def patience(budget: float, on_wait: Callable[[float, str], None] | None = None):
    """Inside the block (this thread and what it hands the context to), each provider call may
    sleep up to ``budget`` seconds in all on back-off, and ``on_wait(seconds, text)`` hears of each
    wait before it starts. For callers with a deadline far from a task's: the reconciliation."""
    token = _patience.set(_Patience(float(budget), on_wait))
    try:
        yield
    finally:
        _patience.reset(token)


def _secs(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}".rstrip("0").rstrip(".")


class _Backoff:
    """The back-off sleeps of one provider call, kept within the budget."""

    def __init__(self, provider: str, what: str):
        policy = _patience.get()
        self.provider = provider
        self.what = what
        self.budget = policy.budget if policy is not None else default_wait_budget()
        self.on_wait = policy.on_wait if policy is not None else None
        self.waited = 0.0

    def sleep(self, headers, default: float, status: int) -> None:
        """Wait before the next try as the answer asks (``Retry-After``, else ``default``), or raise
        a temporary ProviderError when that would take the call past its budget."""
        delay, asked = _retry_after(headers, default)
        name = self.provider.capitalize()
        if self.waited + delay > self.budget:
            wanted = f"asked to wait {_secs(delay)} s (Retry-After)" if asked else f"still answers {status}"
            raise ProviderError(
                self.provider,
                f"{name} answered {status} on {self.what} and {wanted}; that is more than the "
                f"{_secs(self.budget)} s one call may wait here"
                + (f" ({_secs(self.waited)} s waited already)" if self.waited else "")
                + ", so it was not waited out: try again later",
                status=status,
                retry_after=delay if asked else None,
            )
        text = f"waiting {_secs(delay)} s: {name} answered {status} on {self.what}" + (
            " and asked to wait (Retry-After)" if asked else ""
        )
        log.warning("%s", text)
        if self.on_wait is not None:
            self.on_wait(delay, text)
        time.sleep(delay)
        self.waited += delay


# --- Stripe --------------------------------------------------------------------------------------
_stripe_limiters: dict[str, RateLimiter] = {}
_stripe_limiters_lock = threading.Lock()


def _stripe_limiter(endpoint: str) -> RateLimiter:
    with _stripe_limiters_lock:
        if endpoint not in _stripe_limiters:
            _stripe_limiters[endpoint] = RateLimiter(settings.STRIPE_REQUESTS_PER_SECOND, key=f"stripe:{endpoint}")
        return _stripe_limiters[endpoint]


#: Seconds a Stripe call waits for its connection (at most its ``timeout``), before it waits up to
#: ``timeout`` again for the answer.
STRIPE_CONNECT_TIMEOUT = 3.0


def stripe_client(*, timeout: float | None = None, max_network_retries: int = 2) -> stripe.StripeClient:
    """A StripeClient on settings.STRIPE_API_BASE. ``timeout`` (seconds) replaces the SDK's 80 s
    default where a caller has a deadline of its own (a django-q2 task is killed after
    Q_CLUSTER["timeout"])."""
    extra = {}
    if timeout is not None:
        extra["http_client"] = stripe.RequestsClient(timeout=(min(STRIPE_CONNECT_TIMEOUT, timeout), timeout))
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY or "sk_test_not_configured",
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=max_network_retries,
        **extra,
    )


# What each endpoint we call needs of a restricted key (``rk_…``), named as the Stripe Dashboard
# names the resource and the access level (Developers → API keys → the key's permissions). The line
# items of a Checkout Session are read under "Checkout Sessions". First match wins.
_STRIPE_PERMISSIONS = (
    ("checkout.sessions", "Checkout Sessions", "Read"),
    ("refunds.list", "Refunds", "Read"),
    ("refunds", "Refunds", "Write"),
    ("disputes", "Disputes", "Read"),
)


def _stripe_said(exc: stripe.StripeError) -> str:
    return (exc.user_message or str(exc) or type(exc).__name__).strip().rstrip(".")[:500]


def _permission_message(endpoint: str, exc: stripe.StripeError) -> str:
    """A 403: Stripe's own message names the missing permission (``rak_…_read``); ours says where
    to give it."""
    for prefix, resource, level in _STRIPE_PERMISSIONS:
        if endpoint == prefix or endpoint.startswith(prefix + "."):
            fix = (
                f"give the restricted key {level} access to {resource} (Stripe Dashboard → Developers → API keys → "
                "edit the key), or set STRIPE_SECRET_KEY to a key that has it"
            )
            break
    else:
        fix = "give the restricted key the permission Stripe names below, or set STRIPE_SECRET_KEY to a key that has it"
    return f"Stripe refused the API key's permission for {endpoint} (HTTP 403): {fix}. Stripe said: {_stripe_said(exc)}"


def stripe_call(endpoint: str, fn: Callable[..., Any], *args, attempts: int = 5, **kwargs) -> Any:
    """Call a Stripe SDK function paced per endpoint, backing off on 429 (the SDK never retries
    those), and translating SDK errors into ProviderError."""
    backoff = _Backoff("stripe", endpoint)
    for attempt in range(attempts):
        _stripe_limiter(endpoint).wait()
        try:
            return fn(*args, **kwargs)
        except stripe.RateLimitError as exc:
            if attempt == attempts - 1:
                raise ProviderError("stripe", "rate limited (429) after retries", status=429) from exc
            backoff.sleep(exc.headers, 2**attempt, 429)
        except stripe.PermissionError as exc:  # 403: a restricted key without this resource
            raise ProviderError(
                "stripe", _permission_message(endpoint, exc), status=exc.http_status, permanent=True
            ) from exc
        except stripe.IdempotencyError as exc:  # the key was first used with other parameters
            raise ProviderError(
                "stripe",
                f"Stripe refused the idempotency key of this {endpoint} request: it was first used with other "
                "parameters, and Stripe keeps the outcome of that first request (for a refund: an earlier refund "
                "of this payment, possibly of another amount; check the payment's refunds in the Stripe "
                f"Dashboard). Repeating the request cannot succeed. Stripe said: {_stripe_said(exc)}",
                status=exc.http_status,
                permanent=True,
                reused_key=True,
            ) from exc
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise NotFound("stripe", exc.user_message or "not found") from exc
            raise ProviderError("stripe", exc.user_message or str(exc), status=exc.http_status, permanent=True) from exc
        except stripe.AuthenticationError as exc:
            raise ProviderError(
                "stripe", "authentication failed: check STRIPE_SECRET_KEY", status=exc.http_status, permanent=True
            ) from exc
        except stripe.StripeError as exc:
            raise ProviderError(
                "stripe", exc.user_message or type(exc).__name__, status=getattr(exc, "http_status", None)
            ) from exc
    raise AssertionError("unreachable")


# --- Acuity --------------------------------------------------------------------------------------
_acuity_limiter: RateLimiter | None = None
# Worth another try: no answer, or an answer cut off mid-body (the connection dropped while the
# list was being sent: ChunkedEncodingError, which is not a ConnectionError).
_ACUITY_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class AcuityClient:
    """Acuity Scheduling API v1 over HTTP Basic (user id + API key)."""

    provider = "acuity"

    def __init__(
        self,
        base_url: str | None = None,
        user_id: str | None = None,
        api_key: str | None = None,
        timeout: tuple[float, float] = (5.0, 20.0),
        attempts: int = 5,
    ):
        global _acuity_limiter
        self.base_url = (base_url or settings.ACUITY_API_BASE).rstrip("/")
        self.session = requests.Session()
        self.session.auth = (user_id or settings.ACUITY_USER_ID, api_key or settings.ACUITY_API_KEY)
        self.session.headers["User-Agent"] = "jlf-registrations/1.0"
        self.timeout = timeout
        self.attempts = attempts
        if _acuity_limiter is None:
            _acuity_limiter = RateLimiter(settings.ACUITY_REQUESTS_PER_SECOND, key="acuity")
        self.limiter = _acuity_limiter

    def _get(self, path: str, params: dict | None = None) -> Any:
        url = f"{self.base_url}{path}"
        backoff = _Backoff(self.provider, f"GET {path}")
        for attempt in range(self.attempts):
            self.limiter.wait()
            last = attempt == self.attempts - 1
            try:
                resp = self.session.get(url, params=params, timeout=self.timeout)
            except _ACUITY_TRANSIENT as exc:
                if last:
                    raise ProviderError(self.provider, f"unreachable: {type(exc).__name__}") from exc
                time.sleep(min(2**attempt * 0.5, 8))
                continue
            except requests.RequestException as exc:  # say, ACUITY_API_BASE is not a URL
                raise ProviderError(self.provider, f"request failed: {type(exc).__name__}: {exc}") from exc
            if resp.status_code == 404:
                raise NotFound(self.provider, f"{path} not found")
            if resp.status_code in (401, 403):
                raise ProviderError(
                    self.provider,
                    "authentication failed: check ACUITY_USER_ID / ACUITY_API_KEY",
                    status=resp.status_code,
                    permanent=True,
                )
            if resp.status_code == 429 or resp.status_code >= 500:
                if last:
                    raise ProviderError(
                        self.provider,
                        f"HTTP {resp.status_code} after {self.attempts} attempts",
                        status=resp.status_code,
                    )
                backoff.sleep(resp.headers, min(2**attempt * 0.5, 8), resp.status_code)
                continue
            if resp.status_code >= 400:
                raise ProviderError(self.provider, f"HTTP {resp.status_code}", status=resp.status_code, permanent=True)
            try:
                return resp.json()
            except ValueError as exc:
                raise ProviderError(self.provider, "answer was not JSON", status=resp.status_code) from exc
        raise AssertionError("unreachable")

    def get_appointment(self, appointment_id) -> dict:
        return self._get(f"/appointments/{int(appointment_id)}")

    def list_appointments(self, **params) -> list[dict]:
        """GET /appointments. Pass ``showall="true"`` to include cancelled ones; ``max`` ≤ 100 is
        the page size and there is no cursor (walk date windows)."""
        return self._get("/appointments", params=params)

    def list_appointment_types(self) -> list[dict]:
        return self._get("/appointment-types")

    def list_calendars(self) -> list[dict]:
        """GET /calendars: ``[{id, name, timezone, …}]``; used to split a day that holds more
        appointments than one list page."""
        return self._get("/calendars")
