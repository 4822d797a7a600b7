"""Outbound API clients for Stripe (official SDK) and Acuity (requests).

Both read their base URL from settings, so tests, the demo and the benchmarks point them at the
local fakes in ``tests/fakes``. Both stay under the providers' rate limits (Stripe: 25 requests/s
per endpoint; Acuity: 10 requests/s) and back off on 429 honouring ``Retry-After`` — the Stripe
SDK retries connection errors and 5xx itself (``max_network_retries``) but never a 429.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
import stripe
from django.conf import settings

log = logging.getLogger(__name__)


class ProviderError(Exception):
    """A provider call failed. ``permanent`` errors (404, 401, 400) are not worth retrying."""

    def __init__(self, provider: str, message: str, *, status: int | None = None, permanent: bool = False):
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status
        self.permanent = permanent


class NotFound(ProviderError):
    def __init__(self, provider: str, message: str):
        super().__init__(provider, message, status=404, permanent=True)


class RateLimiter:
    """A simple thread-safe pacing limiter: at most ``rate`` calls per second per process."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self):
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)


def _retry_after(headers, default: float) -> float:
    try:
        value = float((headers or {}).get("Retry-After") or (headers or {}).get("retry-after") or default)
    except (TypeError, ValueError):
        value = default
    return min(max(value, 0.0), 60.0)


# --- Stripe --------------------------------------------------------------------------------------
_stripe_limiters: dict[str, RateLimiter] = {}
_stripe_limiters_lock = threading.Lock()


def _stripe_limiter(endpoint: str) -> RateLimiter:
    with _stripe_limiters_lock:
        if endpoint not in _stripe_limiters:
            _stripe_limiters[endpoint] = RateLimiter(settings.STRIPE_REQUESTS_PER_SECOND)
        return _stripe_limiters[endpoint]


def stripe_client(*, timeout: float | None = None, max_network_retries: int = 2) -> stripe.StripeClient:
    """A StripeClient on settings.STRIPE_API_BASE. ``timeout`` (seconds) replaces the SDK's 80 s
    default where a caller has a deadline of its own (a django-q2 task is killed after
    Q_CLUSTER["timeout"])."""
    extra = {}
    if timeout is not None:
        extra["http_client"] = stripe.RequestsClient(timeout=(min(3.0, timeout), timeout))
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY or "sk_test_not_configured",
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=max_network_retries,
        **extra,
    )


def stripe_call(endpoint: str, fn: Callable[..., Any], *args, attempts: int = 5, **kwargs) -> Any:
    """Call a Stripe SDK function paced per endpoint, backing off on 429 (the SDK never retries
    those), and translating SDK errors into ProviderError."""
    for attempt in range(attempts):
        _stripe_limiter(endpoint).wait()
        try:
            return fn(*args, **kwargs)
        except stripe.RateLimitError as exc:
            if attempt == attempts - 1:
                raise ProviderError("stripe", "rate limited (429) after retries", status=429) from exc
            delay = _retry_after(exc.headers, 2**attempt)
            log.warning("stripe 429 on %s, retrying in %.1fs", endpoint, delay)
            time.sleep(delay)
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
            _acuity_limiter = RateLimiter(settings.ACUITY_REQUESTS_PER_SECOND)
        self.limiter = _acuity_limiter

    def _get(self, path: str, params: dict | None = None) -> Any:
        url = f"{self.base_url}{path}"
        for attempt in range(self.attempts):
            self.limiter.wait()
            last = attempt == self.attempts - 1
            try:
                resp = self.session.get(url, params=params, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise ProviderError(self.provider, f"unreachable: {type(exc).__name__}") from exc
                time.sleep(min(2**attempt * 0.5, 8))
                continue
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
                delay = _retry_after(resp.headers, min(2**attempt * 0.5, 8))
                log.warning("acuity %s on %s, retrying in %.1fs", resp.status_code, path, delay)
                time.sleep(delay)
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
