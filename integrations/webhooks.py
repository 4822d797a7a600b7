"""Webhook views: verify the signature on the raw body, store, enqueue, answer 2xx.

Nothing slow happens here: no provider API call and no matching (those are in
``integrations.tasks``), because Stripe re-signs every retry with a new timestamp and expects a
quick 2xx (INTEGRATIONS.md traps 7, 8, 11). What each answer means to the provider:

* 200 — accepted (stored, or already stored), including events we do not handle (stored ignored);
* 400 — will never be accepted: bad/missing signature (nothing stored), body that is not what the
  provider sends; 405 not a POST; 413 body over settings.WEBHOOK_MAX_BODY_BYTES;
* 503 — the database is unavailable: the provider retries later.

A rejected signature is logged as a warning naming the provider and the reason (wrong secret,
stale timestamp, missing header…), never the secret or the signature value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from urllib.parse import parse_qs

import stripe
from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import acuity_events, stripe_events
from .inbox import Delivery, record
from .models import WebhookEvent

log = logging.getLogger(__name__)


class Rejected(Exception):
    def __init__(self, status: int, reason: str, message: str = ""):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.message = message or reason


def _answer(http_status: int, **data) -> JsonResponse:
    return JsonResponse(data, status=http_status)


def _read_body(request) -> bytes:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise Rejected(413, "body too large", f"body of {declared} bytes is over the {limit}-byte limit")
    body = request.body
    if len(body) > limit:
        raise Rejected(413, "body too large", f"body of {len(body)} bytes is over the {limit}-byte limit")
    return body


def _accept(provider: str, request, build) -> JsonResponse:
    """Shared frame: read → verify+parse (``build`` returns a Delivery or raises Rejected) →
    store+enqueue → answer."""
    try:
        body = _read_body(request)
        delivery = build(request, body)
    except Rejected as exc:
        log.warning(
            "%s webhook rejected (%s): %s",
            provider,
            exc.status,
            exc.message,
            extra={"provider": provider, "reason": exc.reason, "status": exc.status},
        )
        return _answer(exc.status, error=exc.reason)
    try:
        recorded = record(delivery)
    except IntegrityError:
        raise  # a bug, not an outage: let it be a loud 500
    except DatabaseError as exc:
        log.error(
            "%s webhook %s not stored, database unavailable: %s",
            provider,
            delivery.event_id,
            type(exc).__name__,
            extra={"provider": provider, "event_id": delivery.event_id},
        )
        response = _answer(503, error="temporarily unavailable")
        response["Retry-After"] = "30"
        return response
    row = recorded.row
    # DEBUG: the request line (jlf.request) already records every delivery with its request id,
    # which the inbox row keeps too, and the inbox is the searchable record. At webhook rates a
    # second INFO line per request costs a measurable share of the request's CPU (docs/performance.md).
    log.debug(
        "%s webhook %s %s: %s",
        provider,
        delivery.event_type,
        delivery.event_id,
        "duplicate" if recorded.duplicate else row.status,
        extra={
            "provider": provider,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "inbox_id": row.pk,
            "duplicate": recorded.duplicate,
            "status": row.status,
            "enqueued": recorded.enqueued,
        },
    )
    return _answer(200, received=True, duplicate=recorded.duplicate, status=row.status)


# --- Stripe ----------------------------------------------------------------------------------------
_STRIPE_REASONS = (
    ("No Stripe-Signature header", "missing Stripe-Signature header"),
    ("Unable to extract timestamp", "unparsable Stripe-Signature header"),
    ("No signatures found with expected scheme", "no v1 signature in Stripe-Signature header"),
    ("Timestamp outside the tolerance zone", "signature timestamp older than the tolerance (stale or replayed)"),
    ("No signatures found matching", "signature matches none of the configured STRIPE_WEBHOOK_SECRETS"),
)


def _stripe_reason(exc: Exception) -> str:
    text = str(exc)
    for needle, reason in _STRIPE_REASONS:
        if needle in text:
            return reason
    return "signature verification failed"


def verify_stripe_signature(body: bytes, header: str | None) -> None:
    """Raise Rejected unless ``header`` is a valid Stripe-Signature for ``body`` under one of the
    configured secrets (several during a secret roll), within the tolerance (5 min)."""
    # Stripped: django-environ keeps the space in "whsec_old, whsec_new", and a secret with a
    # space in it matches nothing.
    secrets = [s.strip() for s in settings.STRIPE_WEBHOOK_SECRETS if s and s.strip()]
    if not secrets:
        raise Rejected(400, "no STRIPE_WEBHOOK_SECRETS configured")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8")
    if header and not header.isascii():
        # The SDK's compare_digest raises TypeError on a non-ASCII str (a 500, not a refusal).
        raise Rejected(400, "bad signature", f"Stripe signature rejected: {_STRIPE_REASONS[1][1]}")
    reasons = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, settings.STRIPE_WEBHOOK_TOLERANCE)
            return
        except stripe.SignatureVerificationError as exc:
            reasons.append(_stripe_reason(exc))
    # A stale timestamp means the signature itself matched one secret: say that rather than
    # "no match", which would send an operator chasing a secret that is right.
    reason = next((r for r in reasons if r.startswith("signature timestamp")), reasons[0])
    if reason.startswith("signature matches none"):
        reason = f"{reason} ({len(secrets)} configured)"
    raise Rejected(400, "bad signature", f"Stripe signature rejected: {reason}")


def _build_stripe(request, body: bytes) -> Delivery:
    verify_stripe_signature(body, request.META.get("HTTP_STRIPE_SIGNATURE"))
    try:
        data = json.loads(body)
    except ValueError:
        raise Rejected(400, "body is not JSON", "signed Stripe body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise Rejected(400, "not a Stripe event", "signed Stripe body has no event id")
    event_type = str(data.get("type") or "")
    livemode = data.get("livemode") if isinstance(data.get("livemode"), bool) else None
    obj = (data.get("data") or {}).get("object") if isinstance(data.get("data"), dict) else None
    object_id = str(obj.get("id") or "") if isinstance(obj, dict) else ""
    return Delivery(
        provider=WebhookEvent.Provider.STRIPE,
        event_id=data["id"][:255],
        event_type=event_type,
        object_id=object_id,
        body=body.decode("utf-8"),
        headers=_stripe_headers(request),
        livemode=livemode,
        ignore_reason=stripe_events.ignore_reason(data),
    )


def _stripe_headers(request) -> dict:
    """The headers worth keeping: never the signature itself (it cannot be re-verified after the
    5-minute tolerance anyway), only its timestamp, which dates the delivery attempt."""
    sig = request.META.get("HTTP_STRIPE_SIGNATURE", "")
    t = next((p[2:] for p in sig.split(",") if p.startswith("t=")), "")
    return {
        "content_type": request.META.get("CONTENT_TYPE", ""),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
        "signature_timestamp": t[:20],
        "request_id": getattr(request, "request_id", ""),
    }


@csrf_exempt
@require_POST
def stripe_webhook(request):
    return _accept(WebhookEvent.Provider.STRIPE, request, _build_stripe)


# --- Acuity ----------------------------------------------------------------------------------------
def verify_acuity_signature(body: bytes, header: str | None) -> None:
    """``X-Acuity-Signature`` = base64(HMAC-SHA256(API key, raw body)), compared in constant time
    (the official SDKs compare with ``!==``)."""
    key = settings.ACUITY_API_KEY
    if not key:
        raise Rejected(400, "no ACUITY_API_KEY configured")
    if not header:
        raise Rejected(400, "bad signature", "Acuity signature rejected: missing X-Acuity-Signature header")
    expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, header.strip().encode("ascii", "replace")):
        raise Rejected(
            400,
            "bad signature",
            "Acuity signature rejected: does not match ACUITY_API_KEY "
            "(static webhooks are signed with the main admin's key, dynamic ones with their creator's)",
        )


def _build_acuity(request, body: bytes) -> Delivery:
    verify_acuity_signature(body, request.META.get("HTTP_X_ACUITY_SIGNATURE"))
    try:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        raise Rejected(400, "body is not form-encoded", "signed Acuity body is not UTF-8")
    action = form.get("action", "").strip()
    object_id = form.get("id", "").strip()
    if not action or not object_id:
        raise Rejected(400, "body is not form-encoded", "signed Acuity body lacks action or id")
    ignore = acuity_events.ignore_reason(action)
    if not ignore and not object_id.isdigit():
        raise Rejected(400, "bad appointment id", "signed Acuity body has a non-numeric appointment id")
    return Delivery(
        provider=WebhookEvent.Provider.ACUITY,
        event_id=acuity_events.delivery_key(form),
        event_type=action[:100],
        object_id=object_id[:255],
        body=body.decode("utf-8"),
        headers={
            "content_type": request.META.get("CONTENT_TYPE", ""),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
            "request_id": getattr(request, "request_id", ""),
        },
        ignore_reason=ignore,
    )


@csrf_exempt
@require_POST
def acuity_webhook(request):
    return _accept(WebhookEvent.Provider.ACUITY, request, _build_acuity)
