"""Login brute-force protection (django-axes). Error reporting lives in ``jlf/sentry.py``.

Axes policy (settings ``AXES_*``): after ``AXES_FAILURE_LIMIT`` failed password logins for one
username from one client address, that pair is refused for ``AXES_COOLOFF_TIME`` with a 429
page. The lock is on the (username, address) *pair*, deliberately:

* a stranger cannot lock an operator out by mistyping the operator's name from elsewhere;
* a proxy misconfiguration that makes every client look alike (``TRUSTED_PROXY_COUNT`` wrong)
  then locks one username, not everybody;
* 5 tries per 15 minutes per pair keeps online guessing hopeless against any real password.
"""

from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.shortcuts import render


class AxesBackend(AxesStandaloneBackend):
    """Axes' lockout check for every authentication that comes with a request.

    ``authenticate()`` without a request (Django's test client ``login()``, a shell, a
    management command) cannot be brute-forced from outside and has no client address to count
    by; upstream axes raises there, which would break those callers, so this skips the check.
    Every HTTP login path (admin login form, sesame sign-in) passes the request.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    """The client's address, trusting exactly ``TRUSTED_PROXY_COUNT`` proxies' X-Forwarded-For
    (1 on Railway: its edge appends the client address; 0 = the socket's REMOTE_ADDR)."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def lockout_response(request, original_response=None, credentials=None):
    """The 429 page: what happened, for how long, and that nothing else is affected."""
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = math.ceil(cooloff.total_seconds() / 60) if hasattr(cooloff, "total_seconds") else None
    response = render(
        request,
        "security/lockout.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response
