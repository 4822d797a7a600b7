"""Read-only maintenance mode (``READ_ONLY_MODE=true``): people can look, nobody can change.

While it is on:

* every POST/PUT/PATCH/DELETE from a person (operator pages, admin, co-host portal, sign-in
  forms) gets a 503 page "Read-only maintenance mode: changes are paused, nothing is lost",
  with ``Retry-After``; GET/HEAD/OPTIONS pages keep working;
* provider webhooks under ``/webhooks/`` are still verified, stored in the inbox and answered
  2xx, so Stripe and Acuity do not give up on us; their *processing* waits
  (``processing_paused()``) until the mode is lifted;
* templates get ``read_only_mode`` (context processor) to show a banner.

The mode is an environment setting: turning it on or off is a redeploy of web and worker.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
WEBHOOK_PREFIX = "/webhooks/"
RETRY_AFTER_SECONDS = 300
MESSAGE = "Read-only maintenance mode: changes are paused, nothing is lost."


def is_read_only() -> bool:
    return bool(getattr(settings, "READ_ONLY_MODE", False))


def processing_paused() -> bool:
    """True while read-only maintenance mode is on: stored work must wait, not run.

    For tasks that process stored input (the webhook inbox, reconciliation, reminder sends):
    call this first and, when it returns True, return at once **without touching the stored
    row** (an inbox row stays ``received``, nothing is marked failed or processed, no attempt
    is counted), then make sure it is picked up again once the mode is lifted, for instance:

        from jlf.readonly import processing_paused

        def process_webhook(event_id):
            if processing_paused():
                # Leave the row "received"; the sweep re-enqueues it after maintenance.
                return "paused: read-only maintenance mode"
            ...

    Do not raise to "retry later": django-q2 counts that as a failed attempt, and a long
    maintenance window would exhaust ``max_attempts`` and mark good deliveries failed. The
    inbox's periodic sweep of rows still ``received`` (or a re-enqueue at startup) is what
    resumes them; since lifting the mode redeploys the worker, a sweep on the first schedule
    run after the deploy catches everything that arrived meanwhile.
    """
    return is_read_only()


def read_only_mode(request):
    """Context processor: ``{% if read_only_mode %}<banner>{% endif %}`` in any template."""
    return {"read_only_mode": is_read_only(), "read_only_message": MESSAGE}


class ReadOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_read_only() and request.method not in SAFE_METHODS and not request.path_info.startswith(WEBHOOK_PREFIX):
            return self.refuse(request)
        return self.get_response(request)

    @staticmethod
    def refuse(request):
        response = render(request, "readonly/503.html", {"back_url": _back_url(request)}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def _back_url(request) -> str:
    """The page the change was made from, when it is one of ours; else the home page."""
    referer = request.headers.get("Referer", "")
    try:
        host = request.get_host()
    except DisallowedHost:
        return "/"
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={host}, require_https=request.is_secure()):
        return referer
    return "/"
