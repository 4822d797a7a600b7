"""Request id and the one-line-per-request JSON log.

``RequestIdMiddleware`` is the outermost middleware so that every response, redirects and
errors included, carries an ``X-Request-ID`` header and produces exactly one ``jlf.request``
log line. The id:

* comes from the incoming ``X-Request-ID`` header when it is short and made of safe characters
  (so a caller, or Railway's edge via ``X-Railway-Request-Id``, can correlate its own logs),
  otherwise it is generated (uuid4 hex). A malformed header is never echoed or logged: it could
  be an attempt to forge log lines;
* is stored in ``jlf.context.request_id_var`` for the duration of the request, where the logging
  filter, ``registrations.audit.audit`` and the django-q2 enqueue hook (``jlf.tasks``) read it.

The request line holds method, path (never the query string: magic-link tokens travel there),
status, duration in milliseconds and the user's primary key. Never the body or headers.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.http import HttpResponseBadRequest
from django.utils.functional import empty

from .context import request_id_var

log = logging.getLogger("jlf.request")

REQUEST_ID_HEADER = "X-Request-ID"
# Headers tried in order; the first valid one wins.
_INCOMING = ("HTTP_X_REQUEST_ID", "HTTP_X_RAILWAY_REQUEST_ID")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> bool:
    return bool(value) and _SAFE_ID.fullmatch(value) is not None


def incoming_request_id(meta) -> str:
    for key in _INCOMING:
        value = meta.get(key, "").strip()
        if valid_request_id(value):
            return value
    return new_request_id()


def _user_id(request):
    """The user's pk if authentication already ran for this request; never a new DB query."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty:
        # Nobody looked at request.user during the request: resolve it only when there is a
        # session (an anonymous request costs nothing; a signed-in one was loaded anyway by
        # most views, and the session is cached on the request).
        session = getattr(request, "session", None)
        if session is None or not getattr(session, "session_key", None):
            return None
        wrapped = user
    try:
        return wrapped.pk if wrapped.is_authenticated else None
    except Exception:  # a broken session store must not break the log line
        return None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = incoming_request_id(request.META)
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
            path = loggable_path(request)
            log.log(
                level,
                "%s %s %s",
                request.method,
                path,
                status,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "user": _user_id(request),
                },
            )
            request_id_var.reset(token)


class NulByteMiddleware:
    """A NUL character in the path or the query string (``%00`` in a mangled or probing link)
    gets a 400 at once: PostgreSQL refuses to compare text holding one, so any view that looks
    it up would answer 500. Posted forms are checked by Django's form fields; bodies are left
    to their views (webhooks read theirs raw)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in k or any("\x00" in v for v in values) for k, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                "This address contains a NUL character (%00) and cannot be right.", content_type="text/plain"
            )
        return self.get_response(request)


def loggable_path(request) -> str:
    """The path with bearer tokens in it (URL kwargs named ``token``: the co-host calendar feed,
    unsubscribe and attendee-status links) replaced, so access logs hold no working link."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    if match is not None:
        for name, value in match.kwargs.items():
            if "token" in name and isinstance(value, str) and value:
                path = path.replace(value, "[token]")
    return path
