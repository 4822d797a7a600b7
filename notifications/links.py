"""The one link a reminder carries: the event's Acuity scheduling page or its Stripe Payment Link,
prefilled for this attendee and carrying our registration reference, so whatever they do next is
matched to this registration by reference (strongest evidence) rather than by email.

* Acuity: ``firstName``, ``lastName``, ``email``, ``phone`` and ``field:<id>=<reference>`` for the
  hidden intake field configured on the event (``Event.acuity_reference_field_id``).
* Stripe Payment Link: ``prefilled_email`` and ``client_reference_id=<reference>``. Stripe drops a
  ``client_reference_id`` silently unless it is alphanumeric, ``-`` or ``_`` (at most 200
  characters); our references are ``R`` + 16 base32 characters, and anything else is left out.

Both return "" when the event has no such URL configured; templates word the message without a
button then.

The handoff feature (``integrations.handoff``) builds the same links for its redirect pages; when
it is installed its ``booking_link`` / ``payment_link`` are used, so an attendee gets one and the
same link from every path. The functions below are the fallback with the same rules.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_STRIPE_REFERENCE_OK = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def _with_params(url: str, params: dict) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, v) for k, v in params.items() if v]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _split_name(name: str) -> tuple[str, str]:
    parts = (name or "").split()
    if not parts:
        return "", ""
    if len(parts) == 1:
        return parts[0], ""
    return " ".join(parts[:-1]), parts[-1]


def booking_link(registration) -> str:
    event, attendee = registration.event, registration.attendee
    first, last = _split_name(attendee.name)
    params = {"firstName": first, "lastName": last, "email": attendee.email, "phone": attendee.phone}
    if event.acuity_reference_field_id:
        params[f"field:{event.acuity_reference_field_id}"] = registration.reference
    return _with_params(event.acuity_scheduling_url, params)


def payment_link(registration) -> str:
    params = {"prefilled_email": registration.attendee.email}
    if _STRIPE_REFERENCE_OK.match(registration.reference or ""):
        params["client_reference_id"] = registration.reference
    return _with_params(registration.event.stripe_payment_link_url, params)


try:  # one link-builder for the whole product when the handoff feature is present
    from integrations.handoff import booking_link as _handoff_booking_link
    from integrations.handoff import payment_link as _handoff_payment_link
except ImportError:  # pragma: no cover - depends on the installed features
    _handoff_booking_link = _handoff_payment_link = None


def link_for(registration, missing: str) -> str:
    """The link that closes the gap: ``missing`` is "booking" or "payment"."""
    if missing == "booking":
        return (_handoff_booking_link or booking_link)(registration)
    return (_handoff_payment_link or payment_link)(registration)
