"""Links that lead an attendee from one step to the other, carrying our registration reference.

- ``booking_link``: the event's Acuity scheduling page with the attendee's name, email and phone
  prefilled, the appointment type chosen, and our reference in a hidden intake field, so the
  booking that comes back names its registration whatever email is typed.
- ``payment_link``: the event's Stripe Payment Link with the email prefilled and our reference
  as ``client_reference_id``, so the payment that comes back names its registration.
- ``redirect_urls``: the two addresses an operator pastes into Stripe and Acuity so that each
  provider sends the attendee back to us (``/r/paid/`` and ``/r/booked/``).

Reminders reuse ``booking_link`` / ``payment_link``; the ops event page shows ``redirect_urls``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.urls import reverse
from django.utils.html import escape

from registrations.models import Event, EventMapping, Registration
from registrations.services import is_reference

# Stripe's placeholder in a Payment Link's "after completion" redirect: "You can embed
# {CHECKOUT_SESSION_ID} into the URL to have the id of the completed checkout session included"
# (PaymentLinkCreateParams.AfterCompletion.Redirect.url, stripe-ruby/stripe-python docstrings;
# https://docs.stripe.com/payments/checkout/custom-success-page). A literal string, never encoded.
STRIPE_SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"

# Acuity's placeholder for the appointment id in the code it shows on its confirmation page
# (Integrations → Conversion tracking → custom HTML). NOT found in Acuity's own stored docs; two
# public integrations use it there (`acuity_%appointmentId%` as a Meta event id, and
# `?type=%appointmentTypeID%` on a pay-after-booking link). docs/setup-stripe-acuity.md tells
# the operator how to check it with a test booking; /r/booked/ treats an unreplaced placeholder
# like any unknown id (friendly page plus the event's plain payment link).
ACUITY_APPOINTMENT_PLACEHOLDER = "%appointmentId%"

# Checked with fullmatch: "$" would also accept a trailing newline. ASCII only ([0-9], not \d).
SESSION_ID_RE = re.compile(r"cs_(test_|live_)?[A-Za-z0-9]{1,200}")
APPOINTMENT_ID_RE = re.compile(r"[0-9]{1,12}")
SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,80}")
_FIELD_ID_RE = re.compile(r"[0-9]{1,18}")


def valid_session_id(value: str) -> bool:
    return isinstance(value, str) and bool(SESSION_ID_RE.fullmatch(value))


def valid_appointment_id(value: str) -> bool:
    return isinstance(value, str) and bool(APPOINTMENT_ID_RE.fullmatch(value))


def valid_slug(value: str) -> bool:
    return isinstance(value, str) and bool(SLUG_RE.fullmatch(value))


def _with_params(url: str, params: list[tuple[str, str]], replace: set[str]) -> str:
    """``url`` with ``params`` appended; existing keys in ``replace`` are dropped first, every
    other existing parameter (owner=…, calendarID=…) is kept as the operator wrote it."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in replace]
    # ":" stays readable in Acuity's "field:<id>" keys; everything else is percent-encoded
    # (a "+" in an email must arrive as "+", not as a space).
    query = urlencode(kept + [(k, v) for k, v in params if v not in (None, "")], quote_via=quote, safe=":")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def split_name(name: str) -> tuple[str, str]:
    """ "River Stone" → ("River", "Stone"); "Maria de la Cruz" → ("Maria", "de la Cruz")."""
    words = (name or "").split()
    if not words:
        return "", ""
    return words[0], " ".join(words[1:])


def appointment_type_ids(event: Event) -> list[str]:
    return list(
        EventMapping.objects.filter(event=event, kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, ignored=False)
        .order_by("pk")
        .values_list("value", flat=True)
    )


def _has_appointment_type(url: str) -> bool:
    return any(k in ("appointmentType", "appointmentType[]") for k, _ in parse_qsl(urlsplit(url).query))


def booking_link(registration: Registration, seat_reference: str | None = None) -> str:
    """The event's Acuity scheduling link for this attendee ("" when the event has none).

    Parameters are Acuity's documented dynamic-link prefills
    (https://developers.acuityscheduling.com/docs/embedding, "Dynamic Scheduling Page" and
    "Dynamic Intake Forms"; https://help.acuityscheduling.com/hc/en-us/articles/31919067234445):
    ``firstName``, ``lastName``, ``email``, ``phone``, ``appointmentType=<id>`` (or
    ``appointmentType[]=…`` for several), and ``field:<fieldID>=<value>`` for a text intake field.

    With ``seat_reference`` (seat 2..N of a group purchase) the link is for someone else: nothing
    personal is prefilled, only the seat's reference.
    """
    event = registration.event
    base = (event.acuity_scheduling_url or "").strip()
    if not base:
        return ""
    params: list[tuple[str, str]] = []
    replace = set()
    if seat_reference is None:
        attendee = registration.attendee
        first, last = split_name(attendee.name)
        params += [("firstName", first), ("lastName", last), ("email", attendee.email), ("phone", attendee.phone)]
        replace |= {"firstName", "lastName", "email", "phone"}
    if not _has_appointment_type(base):
        types = appointment_type_ids(event)
        if len(types) == 1:
            params.append(("appointmentType", types[0]))
        else:
            params += [("appointmentType[]", t) for t in types]
    reference = seat_reference if seat_reference is not None else registration.reference
    field_id = (event.acuity_reference_field_id or "").strip()
    if _FIELD_ID_RE.fullmatch(field_id) and is_reference(reference):
        key = f"field:{field_id}"
        params.append((key, reference))
        replace.add(key)
    return _with_params(base, params, replace)


def plain_booking_link(event: Event) -> str:
    """The event's scheduling link with only the appointment type chosen (nothing personal)."""
    base = (event.acuity_scheduling_url or "").strip()
    if not base:
        return ""
    types = [] if _has_appointment_type(base) else appointment_type_ids(event)
    params = [("appointmentType", types[0])] if len(types) == 1 else [("appointmentType[]", t) for t in types]
    return _with_params(base, params, set())


def payment_link(registration: Registration) -> str:
    """The event's Stripe Payment Link for this attendee ("" when the event has none).

    ``prefilled_email`` and ``client_reference_id`` are Payment Link URL parameters
    (https://docs.stripe.com/payment-links/url-parameters). Stripe silently drops a
    ``client_reference_id`` that is not alphanumeric/-/_ or longer than 200 characters; our
    references ("R" + 16 of A–Z/2–9) always pass, and nothing else is ever put there.
    """
    base = (registration.event.stripe_payment_link_url or "").strip()
    if not base:
        return ""
    params = [("prefilled_email", registration.attendee.email)]
    if is_reference(registration.reference):
        params.append(("client_reference_id", registration.reference))
    return _with_params(base, params, {"prefilled_email", "client_reference_id"})


def plain_payment_link(event: Event) -> str:
    return (event.stripe_payment_link_url or "").strip()


def redirect_urls(event: Event) -> dict[str, str]:
    """The exact addresses to paste into the providers for ``event``.

    - ``stripe_after_payment``: the Payment Link's "After payment → Don't show confirmation
      page → Redirect customers to your website" URL. Stripe replaces {CHECKOUT_SESSION_ID}.
    - ``acuity_confirmation``: the link on Acuity's confirmation page. Acuity replaces
      %appointmentId% (see ACUITY_APPOINTMENT_PLACEHOLDER).
    - ``acuity_confirmation_html``: a ready-to-paste snippet for Acuity's custom
      conversion-tracking HTML box, which Acuity shows on its confirmation page.

    The event slug is in both, so when a provider cannot be reached the page can still offer
    that event's plain link.
    """
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    slug = quote(event.slug or "", safe="")
    paid = f"{base}{reverse('handoff:paid')}?session_id={STRIPE_SESSION_PLACEHOLDER}&event={slug}"
    booked = f"{base}{reverse('handoff:booked')}?appointment={ACUITY_APPOINTMENT_PLACEHOLDER}&event={slug}"
    text = f"Next step: pay for {escape(event.name)}"
    if event.is_donation:
        text = "You&rsquo;re booked. Would you like to give a donation?"
    html = f'<p><a href="{escape(booked)}">{text} &rarr;</a></p>'
    return {"stripe_after_payment": paid, "acuity_confirmation": booked, "acuity_confirmation_html": html}
