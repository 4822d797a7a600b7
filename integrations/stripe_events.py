"""Stripe events → payment signals → ``registrations.services.apply_payment``.

Runs in the worker, on the stored raw body, which the view verified (never re-verified here: the
5-minute tolerance has passed by the time a retry runs). Objects are read as plain dicts from the
JSON; ``construct_event_without_verification`` would only turn them into StripeObjects, which
are no longer dicts (INTEGRATIONS.md trap 9).

API calls, all through ``clients.stripe_call`` (paced, 429 backoff) with a short timeout:

* line items of a Checkout Session, for the seats (and price mapping keys) the webhook never
  carries — once per session: not again when the Payment already has them;
* ``GET /v1/checkout/sessions?payment_intent=pi_…`` for a ``payment_intent.succeeded`` whose
  session we have not seen yet (a PaymentIntent has no payment link, trap 4).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Q

from registrations.models import Payment
from registrations.signals import PaymentSignal

from .clients import stripe_call, stripe_client
from .parsing import (
    charge_refunded_to_signal,
    dispute_to_signal,
    payment_intent_to_signal,
    refund_to_signal,
    session_to_signal,
)

SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
REFUND_EVENTS = {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
DISPUTE_EVENTS = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}
HANDLED = SESSION_EVENTS | REFUND_EVENTS | DISPUTE_EVENTS | {"payment_intent.succeeded", "charge.refunded"}
# Sessions whose line items we fetch (the quantity matters only for money that arrived or may).
NEEDS_LINE_ITEMS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


def ignore_reason(event: dict) -> str:
    """Why a verified event is stored as ``ignored`` instead of processed ("" = process it)."""
    if event.get("object") != "event":
        return f"not a snapshot event (object={str(event.get('object'))[:40]})"
    event_type = str(event.get("type") or "")
    if event_type not in HANDLED:
        return f"event type {event_type or '(none)'} is not handled"
    livemode = bool(event.get("livemode"))
    if livemode != settings.STRIPE_LIVEMODE and not settings.STRIPE_ACCEPT_OTHER_MODE:
        return (
            "live-mode event on a test install"
            if livemode
            else "test-mode event on a live install (STRIPE_ACCEPT_OTHER_MODE is off)"
        )
    return ""


def _created(event: dict) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(event["created"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


_local = threading.local()


def _client():
    """One client per worker thread, kept between tasks: its HTTP session keeps the connection to
    Stripe open instead of a new TLS handshake per event. Rebuilt when the settings change."""
    key = (settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.WEBHOOK_HTTP_TIMEOUT)
    if getattr(_local, "key", None) != key:
        _local.client = stripe_client(timeout=settings.WEBHOOK_HTTP_TIMEOUT, max_network_retries=1)
        _local.key = key
    return _local.client


def _line_items(session_id: str) -> list[dict] | None:
    """The session's line items, or None when a Payment for it already has them (or, stored
    before line items were kept, its quantity)."""
    known = Q(quantity__isnull=False) | ~Q(line_items=[])
    if Payment.objects.filter(known, checkout_session_id=session_id).exists():
        return None
    client = _client()
    page = stripe_call(
        "checkout.sessions.line_items",
        client.v1.checkout.sessions.line_items.list,
        session_id,
        {"limit": 100},
        attempts=3,
    )
    return [item.to_dict() for item in page.auto_paging_iter()]


def _session_signal(session: dict, event_type: str, raw_ref: str, event: dict | None = None) -> PaymentSignal:
    items = _line_items(session["id"]) if event_type in NEEDS_LINE_ITEMS and session.get("id") else None
    signal = session_to_signal(session, event_type=event_type, line_items=items, raw_ref=raw_ref)
    if event_type == "checkout.session.async_payment_succeeded" and event is not None:
        # A bank debit's funds arrived: when (the event's time; the session's ``created`` is when
        # the debit started). A duplicate payment made while it cleared is found by this.
        signal = dataclasses.replace(signal, cleared_at=_created(event))
    return signal


def _session_for_payment_intent(pi_id: str) -> dict | None:
    client = _client()
    page = stripe_call(
        "checkout.sessions.list",
        client.v1.checkout.sessions.list,
        {"payment_intent": pi_id, "limit": 1},
        attempts=3,
    )
    return page.data[0].to_dict() if page.data else None


def _payment_intent_signals(pi: dict, event: dict, raw_ref: str) -> list[PaymentSignal]:
    pi_signal = payment_intent_to_signal(pi, raw_ref=raw_ref, occurred_at=_created(event))
    known = Payment.objects.filter(payment_intent_id=pi_signal.payment_intent_id, checkout_session_id__isnull=False)
    if not pi_signal.payment_intent_id or known.exists():
        return [pi_signal]
    session = _session_for_payment_intent(pi_signal.payment_intent_id)
    if session is None:
        return [pi_signal]  # not a Checkout payment; kept as a fact, matched if a session turns up
    # One signal: the session's payer, link and quantity, plus what the PaymentIntent adds (its
    # charge, and "paid": it succeeded, whatever the session list said a moment earlier).
    signal = _session_signal(session, "checkout.session.completed", raw_ref)
    status = "paid" if pi_signal.status == "paid" else signal.status
    return [dataclasses.replace(signal, charge_id=pi_signal.charge_id or signal.charge_id, status=status)]


def signals_for(body: str, event_id: str) -> list[PaymentSignal]:
    """The payment signals one stored Stripe event stands for (API calls happen here)."""
    event = json.loads(body)
    event_type = event.get("type") or ""
    obj = (event.get("data") or {}).get("object") or {}
    raw_ref = event_id
    if event_type in SESSION_EVENTS:
        return [_session_signal(obj, event_type, raw_ref, event)]
    if event_type == "payment_intent.succeeded":
        return _payment_intent_signals(obj, event, raw_ref)
    if event_type == "charge.refunded":
        return [charge_refunded_to_signal(obj, raw_ref=raw_ref)]
    if event_type in REFUND_EVENTS:
        return [refund_to_signal(obj, raw_ref=raw_ref)]
    if event_type in DISPUTE_EVENTS:
        return [dispute_to_signal(obj, raw_ref=raw_ref, occurred_at=_created(event))]
    raise ValueError(f"event type {event_type!r} is not handled")
