"""The two pages providers send attendees back to: ``/r/paid/`` (after a Payment Link payment)
and ``/r/booked/`` (from Acuity's confirmation page).

Each fetches the provider object server-side (never trusting the query string beyond an id),
applies it at once through the same domain function a webhook uses (so the webhook that follows
is a no-op), and sends the attendee on to the step they still need, carrying our reference.

What an attendee sees when something is off:
- an id that is malformed, unknown to the provider, expired, not completed, cancelled, too old,
  or belongs to a link / appointment type that is not one of our events: one "we couldn't find
  that" page, status 404, identical for every kind, with no provider text;
- the provider unreachable (down, 5xx after retries, timeout): a calm "we have your payment" /
  "your booking is in" page (status 200; it does not say a payment cleared, as a bank debit may
  not have) with the event's plain link when the URL named the event; the webhook finishes the
  job later.
Once the named event has started, neither page offers a link to pay or book: it says the event
has started and to reply to the confirmation email. The same goes for someone who books after the
start: they are not sent on to pay (nor offered the donation link); and for a payment that failed
after the start: no "try paying again". Nor is anyone offered to pay again when that would charge
twice: a failed payment of someone already paid another way, or with another bank debit still
clearing, and a booker (donation events included) whose bank debit is still clearing: the page
says they are paid, or that the payment is being confirmed. Paid another way covers only the
seats that other payment was for: a failed group payment's other seats beyond those are still
unpaid, and the page says so, with no payment link (it would count the payer's place again).
A payment refunded in full since (its address opened again) gets "This payment was refunded": no
thanks, seat links or booking. Someone booking with a seat link another person already used is
told so (check with whoever sent it) with a link to pay for their own place, not sent there
silently; a friend whose seat's group debit is still clearing reads that a group payment covers
their place, not "your bank payment".
No input makes these views answer 500.
A HEAD (link checkers, browsers' prefetchers) gets GET's answer for a malformed id (404) and 200
with no body otherwise; it looks nothing up and records nothing.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_safe

from notifications.policy import clearing_only_as_a_seat, payment_clearing
from registrations import ratelimit
from registrations.audit import Actor
from registrations.clearing import still_clearing
from registrations.detection import sides
from registrations.models import Event, Payment, Registration, SeatReference, Source
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment, resolve_event

from .clients import AcuityClient, NotFound, ProviderError, stripe_call, stripe_client
from .handoff import (
    booking_link,
    payment_link,
    plain_booking_link,
    plain_payment_link,
    valid_appointment_id,
    valid_session_id,
    valid_slug,
)
from .parsing import appointment_to_signal, session_to_signal

log = logging.getLogger(__name__)

ACTOR = Actor.system(source="handoff")


class Unusable(Exception):
    """The id resolved to nothing we may act on (shown as the one "not found" page)."""


# --- settings -----------------------------------------------------------------------------------
def _timeout() -> float:
    # An attendee is waiting on the page: give up long before the SDK's 80 s default.
    return float(settings.HANDOFF_PROVIDER_TIMEOUT)


def _booked_max_age() -> timedelta:
    return timedelta(days=settings.HANDOFF_BOOKED_MAX_AGE_DAYS)


# --- responses ----------------------------------------------------------------------------------
def _event_day(event: Event | None) -> str:
    """The event's start date in the event's own time zone ("Friday 12 June 2026"): an evening
    event in California is already the next day in the server's UTC."""
    if event is None or not event.starts_at:
        return ""
    try:
        zone = zoneinfo.ZoneInfo(event.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return date_format(event.starts_at.astimezone(zone), "l j F Y")


def _page(request, template: str, context: dict, status: int = 200):
    context = {**context, "event_day": _event_day(context.get("event"))}
    response = render(request, f"handoff/{template}", context, status=status)
    # Personal pages reached by a secret-ish id: never cached, never indexed, and the id in our
    # URL is not sent on to the next site as a Referer.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _go(url: str):
    response = redirect(url)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _event_hint(request) -> Event | None:
    """The event named in the URL the operator pasted (``&event=<slug>``): used only to offer
    that event's plain, non-personal link when the provider object cannot be used."""
    slug = request.GET.get("event", "")
    if not isinstance(slug, str) or not valid_slug(slug):
        return None
    return Event.objects.filter(slug=slug).first()


def _plain_links(step: str, event: Event | None) -> dict:
    """The event's plain links for the "not found" and outage pages. Once the event has started
    there is nothing left to pay for or book online (as on the thank-you page after paying at the
    door): no links, and ``started`` makes the page say so and whom to ask."""
    started = bool(event and event.has_started)
    offer = event is not None and not started
    return {
        "step": step,
        "event": event,
        "started": started,
        "plain_booking_link": plain_booking_link(event) if offer else "",
        "plain_payment_link": plain_payment_link(event) if offer else "",
    }


def _not_found(request, step: str, event: Event | None):
    return _page(request, "not_found.html", _plain_links(step, event), status=404)


def _outage(request, step: str, event: Event | None):
    return _page(request, "outage.html", _plain_links(step, event))


def _all_set(
    request,
    reg: Registration,
    *,
    donation_link: str = "",
    missing_link: str = "",
    started: bool = False,
    clearing: bool = False,
):
    return _page(
        request,
        "all_set.html",
        {
            "event": reg.event,
            "registration": reg,
            "step": "booked",
            "donation_link": donation_link,
            "missing_link": missing_link,
            "started": started,
            "clearing": clearing,
        },
    )


# --- after payment ------------------------------------------------------------------------------
def _fetch_session(session_id: str) -> dict:
    client = stripe_client(timeout=_timeout(), max_network_retries=1)
    session = stripe_call(
        "checkout.sessions.retrieve",
        client.v1.checkout.sessions.retrieve,
        session_id,
        params={"expand": ["line_items"]},
        attempts=2,
    )
    return session.to_dict() if hasattr(session, "to_dict") else dict(session)


def _usable_session(session: dict, session_id: str) -> None:
    if session.get("object") != "checkout.session" or session.get("id") != session_id:
        raise Unusable("not the session asked for")
    if session.get("mode") not in (None, "payment"):
        raise Unusable("not a one-time payment")
    # "open" has not been paid for yet and "expired" never will be.
    if session.get("status") != "complete":
        raise Unusable(f"session {session.get('status')}")


def _seat_rows(reg: Registration, payment: Payment, *, started: bool = False) -> list[dict]:
    """One row per seat of a group payment, each with its own booking link; once the event has
    started there is no booking it any more, so no links (the seats are still issued, as an
    operator assigns them from the group card)."""
    rows = [
        {
            "seat": 1,
            "label": f"Seat 1 — you{f' ({reg.attendee.name})' if reg.attendee.name else ''}",
            "link": "" if started else booking_link(reg),
            "booked": reg.bookings.filter(cancelled=False).exists(),
        }
    ]
    for seat in issue_seat_references(payment, ACTOR):
        rows.append(
            {
                "seat": seat.seat,
                "label": f"Seat {seat.seat}",
                "link": "" if started else booking_link(reg, seat_reference=seat.reference),
                "booked": seat.registration_id is not None,
            }
        )
    return rows


def _seats_left_unpaid(reg: Registration, failed: Payment, *, clearing: bool) -> int:
    """Seats of the failed group payment ``failed`` that the payer's other payments do not cover:
    a live paid payment (or, with ``clearing``, one still clearing) covers its quantity of seats
    (the payer's own place first); a seat of someone else's group payment covers one."""
    if reg.event.is_donation:
        return 0
    others = reg.payments.exclude(pk=failed.pk)
    if clearing:
        covering = list(still_clearing(others))
    else:
        covering = [p for p in others if p.is_paid and not p.fully_refunded]
    covered = sum(1 if p.method == Payment.Method.GROUP_SEAT else (p.quantity or 1) for p in covering)
    return max((failed.quantity or 1) - max(covered, 1), 0)


def _after_payment(request, payment: Payment, reg: Registration):
    event = reg.event
    seats = payment.quantity if (payment.quantity or 1) >= 2 else None  # a group payment's seat count
    if payment.state == Payment.State.FAILED:
        # No "try paying again" when that would charge them twice: the registration is paid
        # another way, or another bank debit of theirs is still clearing (the page says which).
        # Failed once the event is under way: no paying again online, as on the other pages.
        # A failed group payment (several seats): the page says how many, and that paying again
        # means choosing that many on the Payment Link (its address cannot set the quantity).
        # Paid (or clearing) another way covers the payer's own place, and only as many seats as
        # that other payment was for: the seats of a failed group payment beyond those are still
        # unpaid, and the page says so (not "no need to pay again").
        already_paid, _booked = sides(reg)
        clearing = not already_paid and payment_clearing(reg)
        started = event.has_started
        other_seats = _seats_left_unpaid(reg, payment, clearing=clearing) if seats and (already_paid or clearing) else 0
        context = {
            "event": event,
            "step": "failed",
            "already_paid": already_paid,
            "clearing": clearing,
            "started": started,
            "seats": seats,
            "other_seats": other_seats,
            "payment_link": "" if already_paid or clearing or started else payment_link(reg),
        }
        return _page(request, "failed.html", context)
    if payment.fully_refunded:
        # Coming back to the address later (the group page says to keep it): a refunded payment
        # pays for nothing any more, so no thanks, no seat links and no sending on to book.
        already_paid, _booked = sides(reg)
        context = {"event": event, "step": "refunded", "seats": seats, "paid_otherwise": already_paid}
        return _page(request, "refunded.html", context)
    pending = payment.state != Payment.State.PAID
    if seats:
        started = event.has_started
        rows = _seat_rows(reg, payment, started=started)
        context = {
            "event": event,
            "registration": reg,
            "seats": rows,
            "pending": pending,
            "quantity": payment.quantity,
            "step": "paid",
            "started": started,
        }
        return _page(request, "group.html", context)
    _paid, booked = sides(reg)
    if booked and not pending:
        return _all_set(request, reg)
    # A Payment Link still live once the event is under way (scanned at the door): no booking
    # to send them to; the payment is recorded and the organisers take it from there.
    started = not booked and event.has_started
    link = "" if booked or started else booking_link(reg)
    if pending or not link:
        context = {
            "event": event,
            "step": "paid",
            "link": link,
            "pending": pending,
            "booked": booked,
            "started": started,
        }
        return _page(request, "pending.html", context)
    return _go(link)


def _head(request, step: str, raw, valid):
    """A HEAD (a link checker, a browser prefetching the page): a malformed id gets the "not found"
    answer as GET does; any other gets 200 with the personal pages' headers and no body. Nothing is
    fetched from the provider, applied, recorded or counted against the look-up allowance: only
    the attendee's own GET hands the payment or booking on."""
    if not isinstance(raw, str) or not valid(raw):
        return _not_found(request, step, _safe_hint(request))
    response = HttpResponse(content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _handoff(request, step: str, raw, valid, fetch, to_signal, apply, after):
    """The one flow behind both redirects: validate the id, fetch the object from the provider
    (the API is the truth), apply it through the normal path, then show the next step. Every
    failure gets a friendly page: the same "not found" page for anything unusable (it reveals
    nothing), an outage page while the provider is down (the webhook finishes the job)."""
    provider = "Stripe" if step == "paid" else "Acuity"
    try:
        hint = _event_hint(request)
        if not isinstance(raw, str) or not valid(raw):
            return _not_found(request, step, hint)
        try:
            obj = fetch(raw)
        except (NotFound, Unusable) as exc:
            log.info("handoff /r/%s/: unusable id (%s)", step, type(exc).__name__)
            return _not_found(request, step, hint)
        except ProviderError as exc:
            log.warning(
                "handoff /r/%s/: %s unavailable (status %s); the webhook will finish", step, provider, exc.status
            )
            return _outage(request, step, hint)
        signal = to_signal(obj)
        event, _ignored = resolve_event(signal.event_keys)
        if event is None:
            # Not one of our events: the webhook keeps it as unmatched for an operator.
            log.info("handoff /r/%s/: object of an unmapped link or type", step)
            return _not_found(request, step, hint)
        result = apply(signal, actor=ACTOR, source=Source.HANDOFF)
        if result.registration is None:
            return _outage(request, step, event)
        reg = Registration.objects.select_related("event", "attendee").get(pk=result.registration.pk)
        return after(request, reg, result)
    except Exception:  # an attendee never sees a 500 for having paid or booked
        log.exception("handoff /r/%s/ failed", step)
        return _outage(request, step, _safe_hint(request))


@require_safe  # GET, and HEAD from link checkers and prefetchers (looks nothing up: _head)
def paid(request):
    """``/r/paid/?session_id=cs_…&event=<slug>`` — where a Payment Link sends the payer."""
    if request.method == "HEAD":
        return _head(request, "paid", request.GET.get("session_id", ""), valid_session_id)

    def fetch(session_id):
        session = _fetch_session(session_id)
        _usable_session(session, session_id)
        return session

    return _handoff(
        request,
        "paid",
        request.GET.get("session_id", ""),
        valid_session_id,
        fetch,
        lambda session: session_to_signal(session, raw_ref="handoff"),
        apply_payment,
        lambda request, reg, result: _after_payment(request, Payment.objects.get(pk=result.fact.pk), reg),
    )


# --- after booking ------------------------------------------------------------------------------
def _fresh(appt: dict) -> bool:
    """Appointment ids are small sequential integers, so anyone can try them: only a booking
    made in the last few days is handed on (with its email prefilled on the payment page)."""
    created = appt.get("dateCreated")
    if not created:
        return False  # fail closed: an appointment we cannot date is not handed on
    try:
        day = datetime.strptime(str(created).strip(), "%B %d, %Y").date()
    except ValueError:
        log.warning("handoff /r/booked/: unreadable dateCreated %r; not handing it on", created)
        return False
    return day >= (timezone.now() - _booked_max_age()).date()


def _fetch_appointment(appointment_id: str) -> dict:
    t = _timeout()
    appt = AcuityClient(timeout=(min(3.0, t), t), attempts=2).get_appointment(appointment_id)
    if not isinstance(appt, dict) or str(appt.get("id")) != appointment_id:
        raise Unusable("not the appointment asked for")
    if appt.get("canceled"):
        raise Unusable("cancelled")
    if not _fresh(appt):
        raise Unusable("too old")
    return appt


def _seat_link_taken(booking, reg: Registration) -> bool:
    """``booking`` was made with the link of a group payment's seat that someone else had already
    taken (one link, two people): it covers nothing for ``reg``."""
    reference = getattr(booking, "intake_reference", "") or ""
    if not reference:
        return False
    seat = SeatReference.objects.filter(reference=reference, payment__event_id=reg.event_id).first()
    return seat is not None and seat.registration_id not in (None, reg.pk)


def _after_booking(request, reg: Registration, booking=None):
    event = reg.event
    paid, _booked = sides(reg)
    # Booked once the event is under way (Acuity still takes the booking): nothing left to pay
    # or donate online, as on the "not found" and outage pages; the page says so and whom to ask.
    started = not paid and event.has_started
    if event.is_donation:
        # Booked is complete; a donation is welcome but optional. A donation by bank debit still
        # clearing is not asked for again (a second gift would be taken when both clear): the
        # page says it is being confirmed, also after the start.
        if not paid and payment_clearing(reg):
            return _all_set(request, reg, clearing=True)
        return _all_set(request, reg, donation_link="" if paid or started else payment_link(reg), started=started)
    if paid:
        return _all_set(request, reg)
    if payment_clearing(reg):
        # A bank debit is still clearing: paying again would charge twice.
        # A friend who booked with a seat link of someone's group debit paid nothing themselves.
        context = {"event": event, "step": "booked", "link": "", "pending": True, "seat": clearing_only_as_a_seat(reg)}
        return _page(request, "pending.html", context)
    if started:
        return _all_set(request, reg, started=True)
    link = payment_link(reg)
    if _seat_link_taken(booking, reg):
        # Not a silent redirect to the payment page: they thought someone had paid for them.
        return _page(request, "seat_taken.html", {"event": event, "step": "booked", "payment_link": link})
    if not link:
        return _all_set(request, reg, missing_link="payment")
    return _go(link)


@require_safe  # GET, and HEAD from link checkers and prefetchers (looks nothing up: _head)
def booked(request):
    """``/r/booked/?appointment=<id>&event=<slug>`` — linked from Acuity's confirmation page.

    Appointment ids are sequential: past ``HANDOFF_BOOKED_PER_IP_PER_HOUR`` look-ups from one
    client address, the page looks nothing up and offers the event's plain payment link until the
    event starts (an attendee still gets on; someone walking the ids learns no addresses)."""
    raw = request.GET.get("appointment") or request.GET.get("id") or ""
    if request.method == "HEAD":
        return _head(request, "booked", raw, valid_appointment_id)
    if isinstance(raw, str) and valid_appointment_id(raw):
        decision = ratelimit.take(
            ratelimit.hashed("handoff-booked-ip", ratelimit.client_ip(request)),
            settings.HANDOFF_BOOKED_PER_IP_PER_HOUR,
        )
        if not decision.allowed:
            log.warning("handoff /r/booked/: too many look-ups from one client address; nothing looked up")
            return _outage(request, "booked", _safe_hint(request))
    return _handoff(
        request,
        "booked",
        raw,
        valid_appointment_id,
        _fetch_appointment,
        lambda appt: appointment_to_signal(appt, raw_ref="handoff"),
        apply_booking,
        lambda request, reg, result: _after_booking(request, reg, result.fact),
    )


def _safe_hint(request) -> Event | None:
    try:
        return _event_hint(request)
    except Exception:
        return None
