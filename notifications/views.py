"""HTTP endpoints: provider webhooks (Resend, Twilio) and the two attendee pages (/n/…).

Webhooks verify the provider's signature on the request as received, before anything is parsed:
a bad or missing signature is 400 with a warning naming the provider and the reason (never a
secret). Twilio signs the URL it called, so we validate against ``PUBLIC_BASE_URL`` + path —
behind Railway's proxy Django itself would see http:// and an internal host.

Attendee pages take a signed token; a forged, altered or expired token gets one friendly page
that says nothing about whom or what the token was for.
"""

from __future__ import annotations

import json
import logging

import resend
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from twilio.request_validator import RequestValidator

from registrations.detection import open_review_items
from registrations.models import Payment, Registration, ReviewItem, Status

from . import webhooks
from .links import link_for
from .optout import opt_out, registration_merged_into, unsubscribe_targets
from .policy import clearing_only_as_a_seat, group_seat_failed, payment_clearing
from .render import failed_group_seats, first_name_of, format_event_date
from .tokens import read_status_token, read_unsubscribe_token

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _too_big(request) -> bool:
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return True
    return length > settings.WEBHOOK_MAX_BODY_BYTES


def _reject(provider: str, reason: str, status: int = 400) -> HttpResponse:
    log.warning("%s webhook rejected: %s", provider, reason)
    return HttpResponse(f"{provider} webhook rejected: {reason}\n", status=status, content_type="text/plain")


# --- Resend --------------------------------------------------------------------------------------
@csrf_exempt
@require_POST
def resend_webhook(request):
    if _too_big(request):
        return _reject("resend", "body too large", status=413)
    secret = settings.RESEND_WEBHOOK_SECRET
    if not secret:
        return _reject("resend", "RESEND_WEBHOOK_SECRET is not configured")
    try:
        raw = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return _reject("resend", "body is not UTF-8")
    headers = {
        "id": request.headers.get("svix-id", ""),
        "timestamp": request.headers.get("svix-timestamp", ""),
        "signature": request.headers.get("svix-signature", ""),
    }
    try:
        payload = resend.Webhooks.verify({"payload": raw, "headers": headers, "webhook_secret": secret})
    except ValueError as exc:
        return _reject("resend", f"signature check failed ({exc})")
    if not isinstance(payload, dict):
        try:
            payload = json.loads(raw)
        except ValueError:
            return _reject("resend", "body is not JSON")
        if not isinstance(payload, dict):
            return _reject("resend", "body is not a JSON object")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    outcome = webhooks.record_and_apply(
        "resend",
        headers["id"],
        str(payload.get("type") or ""),
        str(data.get("email_id") or ""),
        raw,
        {"svix-id": headers["id"], "svix-timestamp": headers["timestamp"]},
        lambda: webhooks.resend_event(payload),
    )
    return HttpResponse(outcome.result + "\n", content_type="text/plain")


# --- Twilio --------------------------------------------------------------------------------------
def _twilio_verified(request) -> str:
    """ "" when the request carries a valid X-Twilio-Signature, else the reason it does not."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        return "TWILIO_AUTH_TOKEN is not configured"
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return "no X-Twilio-Signature header"
    url = f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}"
    if not RequestValidator(token).validate(url, request.POST, signature):
        return f"signature does not match (checked against {settings.PUBLIC_BASE_URL}{request.path})"
    return ""


def _twilio_event_id(request, fallback: str) -> str:
    # Twilio's own per-delivery idempotency token when present (retries repeat it).
    return request.headers.get("I-Twilio-Idempotency-Token") or fallback


@csrf_exempt
@require_POST
def twilio_status_webhook(request):
    if _too_big(request):
        return _reject("twilio", "body too large", status=413)
    raw = request.body  # read before request.POST, which consumes the stream
    reason = _twilio_verified(request)
    if reason:
        return _reject("twilio", reason)
    params = request.POST
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    outcome = webhooks.record_and_apply(
        "twilio",
        _twilio_event_id(request, f"status:{sid}:{status}:{params.get('ErrorCode', '')}"),
        f"message.{status or 'unknown'}",
        sid,
        raw.decode("utf-8", "replace"),
        {},
        lambda: webhooks.twilio_status(params, request.GET.get("m", "")),
    )
    return HttpResponse(outcome.result + "\n", content_type="text/plain")


@csrf_exempt
@require_POST
def twilio_inbound_webhook(request):
    """Incoming texts: STOP (and Twilio's other opt-out words) stops reminders by SMS, START
    resumes them. Twilio itself answers the keyword and blocks further sends; we answer with an
    empty TwiML document so the attendee gets no second reply."""
    if _too_big(request):
        return _reject("twilio", "body too large", status=413)
    raw = request.body  # read before request.POST, which consumes the stream
    reason = _twilio_verified(request)
    if reason:
        return _reject("twilio", reason)
    params = request.POST
    sid = params.get("MessageSid") or params.get("SmsSid") or webhooks.body_digest(raw)
    webhooks.record_and_apply(
        "twilio",
        _twilio_event_id(request, f"inbound:{sid}"),
        "message.inbound",
        sid,
        "",  # the text of an inbound message is the attendee's: not kept
        {},
        lambda: webhooks.twilio_inbound(params),
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


# --- Attendee pages ------------------------------------------------------------------------------
def _invalid(request):
    return render(request, "notifications/pages/invalid.html", status=404)


def _masked(email: str) -> str:
    local, _, domain = (email or "").partition("@")
    if not domain:
        return ""
    return f"{local[:1]}{'•' * max(len(local) - 1, 1)}@{domain}"


@csrf_exempt  # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" with no CSRF token
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])  # HEAD: mail scanners' link checks (changes nothing)
def unsubscribe(request, token: str):
    attendee_id = read_unsubscribe_token(token)
    # The link's attendee, and whoever it was merged into since the email went out.
    attendees = unsubscribe_targets(attendee_id) if attendee_id else []
    if not attendees:
        return _invalid(request)
    shown = attendees[0]
    # Personal data removed since (the link never expires): no placeholder address on the page.
    email = "" if shown.anonymised_at else _masked(shown.email)
    already = all(a.email_opt_out for a in attendees)

    def done():
        attendees_now = unsubscribe_targets(attendee_id) or attendees
        texts_stopped = any(a.phone for a in attendees_now) and all(a.sms_opt_out or not a.phone for a in attendees_now)
        context = {"email": email, "texts_stopped": texts_stopped}
        return render(request, "notifications/pages/unsubscribed.html", context)

    if request.method == "POST":
        for attendee in attendees:
            opt_out(attendee.pk, "email", via="unsubscribe-link")
            if request.POST.get("sms") == "1":
                opt_out(attendee.pk, "sms", via="unsubscribe-link")
        if request.POST.get("page") == "1":
            # Our own form: post/redirect/get, so reloading the confirmation, or going back and
            # forward again, does not resend the form. A mail provider's one-click POST (RFC 8058)
            # gets the page itself, with no redirect to follow.
            response = redirect(f"{request.path}?done=1")
            response.status_code = 303
            return response
        return done()
    if already and request.GET.get("done") == "1":
        return done()
    return render(
        request,
        "notifications/pages/unsubscribe.html",
        {
            "email": email,
            "already": already,
            "offer_sms": any(a.phone and not a.sms_opt_out for a in attendees),
        },
    )


def _paid(registration) -> bool:
    return any(p.is_paid and not p.fully_refunded for p in registration.payments.all())


def _only_seats_to_give(registration) -> bool:
    """In review only because seats of their group payment are still to be given out."""
    kinds = set(open_review_items(registration).values_list("kind", flat=True))
    return kinds == {ReviewItem.Kind.GROUP_PAYMENT}


def _only_seats(registration) -> bool:
    methods = {p.method for p in registration.payments.all()}
    return methods == {Payment.Method.GROUP_SEAT}


@never_cache
@require_safe  # GET, and HEAD from mail scanners' link checks
def status_page(request, token: str):
    registration_id = read_status_token(token)
    registration = (
        Registration.objects.select_related("event", "attendee").filter(pk=registration_id).first()
        if registration_id
        else None
    )
    if registration is None and registration_id:
        # Emailed before an operator merged it into another registration (same person).
        registration = registration_merged_into(registration_id)
    if registration is None:
        return _invalid(request)
    event = registration.event
    paid = _paid(registration) or registration.status == Status.COMPLETE
    booked = registration.bookings.filter(cancelled=False).exists() or registration.status == Status.COMPLETE
    needs_payment = not event.is_donation
    clearing = not paid and payment_clearing(registration)  # a bank debit: not to be paid twice
    next_step, button = "", ""
    if registration.status in (Status.PAID_ONLY, Status.BOOKED_ONLY, Status.PENDING):
        if not booked:
            next_step, button = "booking", "Book my place"
        elif needs_payment and not paid and not clearing:
            next_step, button = "payment", "Complete my payment"
    elif registration.status == Status.NEEDS_REVIEW and paid and not booked and _only_seats_to_give(registration):
        # A payer for several seats waits for the operator to give out the other seats; their own
        # place is still theirs to book, as the payment page told them.
        next_step, button = "booking", "Book my place"
    context = {
        "first_name": first_name_of(registration.attendee.name),
        "event_name": event.name,
        "event_date": format_event_date(event),
        "event_location": event.location,
        "paid": paid,
        "booked": booked,
        "needs_payment": needs_payment,
        "clearing": clearing,
        "status": registration.status,
        "link": link_for(registration, next_step) if next_step else "",
        "button": button,
        # A group payment that failed: paying again means choosing that many seats (as in the reminder).
        "seats": failed_group_seats(registration) if next_step == "payment" else "",
        # Booked with a seat link of someone else's group bank payment: still clearing, they paid
        # nothing themselves; failed, they check with the payer before paying for their place.
        "clearing_seat": clearing and clearing_only_as_a_seat(registration),
        "seat_failed": next_step == "payment" and group_seat_failed(registration),
        "event_started": event.has_started,
        "refunded": registration.status == Status.REFUNDED,
        # Refunded only as a seat of someone else's group payment: they paid nothing themselves.
        "refunded_seat": registration.status == Status.REFUNDED and _only_seats(registration),
        "cancelled": registration.status == Status.CANCELLED,
        "in_review": registration.status == Status.NEEDS_REVIEW and not next_step,
        "complete": registration.status == Status.COMPLETE,
    }
    response = render(request, "notifications/pages/status.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the token is in our URL: don't hand it to Stripe
    return response
