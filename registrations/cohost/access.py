"""Who may see what in the co-host portal. Every co-host view fetches through these helpers.

* ``cohost_required`` — the request is a signed-in, active co-host whose session has not been
  idle for longer than ``COHOST_IDLE_TIMEOUT`` and was opened less than ``COHOST_SESSION_MAX_AGE``
  ago (however busy, a session ends then: a cookie copied off a shared computer stops working);
  sets ``request.cohost``.
  - anonymous → redirect to the sign-in page;
  - staff → 403 with a pointer to /ops/ (an operator is not a co-host; operators see every
    event there, and a co-host magic link never opens an operator session);
  - any other signed-in user without an active co-host account → 403 (and signed out, if the
    account was switched off while they were signed in).
* ``get_event_for_cohost`` / ``get_registration_for_cohost`` — 404 unless the object belongs
  to one of the co-host's events (404, not 403: it does not confirm that the slug exists).
* ``get_cohost_for_calendar`` — the calendar URL is its own credential (calendar apps cannot
  sign in); 404 for an unknown, rotated or switched-off link.
"""

from __future__ import annotations

import time
from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from ..models import CoHost, CoHostGrant, Event, Registration

SESSION_LAST_SEEN = "cohost_last_seen"
SESSION_STARTED = "cohost_signed_in_at"
# Refresh the idle clock at most once a minute so ordinary browsing does not rewrite the
# session row on every request.
_TOUCH_EVERY = 60


def _login_redirect(reason: str = "") -> HttpResponseRedirect:
    query = f"?{urlencode({'reason': reason})}" if reason else ""
    return HttpResponseRedirect(reverse("cohost:login") + query)


def forbidden(request, *, staff: bool = False, switched_off: bool = False):
    return render(
        request,
        "cohost/forbidden.html",
        {"staff": staff, "switched_off": switched_off},
        status=403,
    )


def start_session(request) -> None:
    """Called right after ``login()``: the session's absolute clock starts now."""
    request.session[SESSION_STARTED] = int(time.time())
    _touch(request)


def _touch(request) -> None:
    """The session lives one more idle period, and never past its absolute limit."""
    now = int(time.time())
    request.session[SESSION_LAST_SEEN] = now
    left = request.session[SESSION_STARTED] + settings.COHOST_SESSION_MAX_AGE - now
    request.session.set_expiry(max(1, min(settings.COHOST_IDLE_TIMEOUT, left)))


def _expired(request) -> str:
    """ "idle" / "expired" when the session must end, else "" (and the idle clock is refreshed)."""
    last = request.session.get(SESSION_LAST_SEEN)
    started = request.session.get(SESSION_STARTED)
    # A session without the idle clock was not opened by the co-host sign-in: expired.
    if not isinstance(last, int):
        return "idle"
    if not isinstance(started, int):
        # Opened by the sign-in before the absolute limit existed: its limit counts from the
        # last request seen, rather than signing a busy co-host out "for inactivity".
        started = request.session[SESSION_STARTED] = last
    now = int(time.time())
    if now - started > settings.COHOST_SESSION_MAX_AGE:
        return "expired"
    if now - last > settings.COHOST_IDLE_TIMEOUT:
        return "idle"
    if now - last >= _TOUCH_EVERY:
        _touch(request)
    return ""


def cohost_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return _login_redirect()
        if user.is_staff or user.is_superuser:
            return forbidden(request, staff=True)
        cohost = CoHost.objects.filter(user=user).select_related("user").first()
        if cohost is None:
            return forbidden(request)
        if not cohost.is_active:
            logout(request)
            return forbidden(request, switched_off=True)
        reason = _expired(request)
        if reason:
            logout(request)
            return _login_redirect(reason=reason)
        request.cohost = cohost
        return view(request, *args, **kwargs)

    return wrapper


def grants_for(cohost: CoHost):
    return CoHostGrant.objects.filter(cohost=cohost).select_related("event")


def get_event_for_cohost(request, slug: str) -> Event:
    """The event with this slug if the signed-in co-host has a grant for it, else 404.

    The returned event carries ``can_see_money`` from the co-host's grant.
    """
    grant = grants_for(request.cohost).filter(event__slug=slug).first()
    if grant is None:
        raise Http404("No such event")
    event = grant.event
    event.can_see_money = grant.can_see_money
    return event


def get_registration_for_cohost(request, slug: str, reference: str) -> Registration:
    """The registration with this reference on one of the co-host's events, else 404.

    Fetched through ``get_event_for_cohost`` so the event check cannot be skipped; the returned
    registration's ``event`` carries ``can_see_money``.
    """
    event = get_event_for_cohost(request, slug)
    if "\x00" in reference:  # a mangled link: PostgreSQL cannot even compare it
        raise Http404("No such registration")
    registration = Registration.objects.filter(event=event, reference=reference).select_related("attendee").first()
    if registration is None:
        raise Http404("No such registration")
    registration.event = event
    return registration


def get_cohost_for_calendar(token: str) -> CoHost:
    cohost = (
        CoHost.objects.filter(calendar_token=token, is_active=True, user__is_active=True).select_related("user").first()
    )
    if cohost is None:
        raise Http404("No such calendar")
    return cohost
