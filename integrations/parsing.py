"""Provider payloads (plain dicts, as Stripe/Acuity send or return them) → provider-neutral signals.

One parser per object type, shared by webhooks, reconciliation, backfill, the handoff redirect,
the reminder live check and the demo, so there is one way to read each provider object.
Parsers never raise on a missing optional field (fields can be null); they raise ``ValueError``
only when the object is not what it claims to be.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from registrations.identity import normalise_phone
from registrations.models import EventMapping
from registrations.signals import BookingSignal, PaymentSignal


def _ts(value) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _get(d, *path, default=None):
    for key in path:
        if not isinstance(d, dict):
            return default
        d = d.get(key)
    return default if d is None else d


def _ref(value) -> str:
    """A Stripe id field may be a string or an expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def line_items_of(session: dict) -> list[dict] | None:
    items = session.get("line_items")
    if isinstance(items, dict):
        return items.get("data") or []
    if isinstance(items, list):
        return items
    return None


def line_item_pairs(line_items: list[dict] | None) -> tuple:
    """((price id, quantity), …) of a session's line items, in Stripe's order."""
    return tuple((_ref(i.get("price")), int(i.get("quantity") or 0)) for i in line_items or [])


def session_event_keys(session: dict, line_items: list[dict] | None = None) -> tuple:
    keys = []
    if _ref(session.get("payment_link")):
        keys.append((EventMapping.Kind.STRIPE_PAYMENT_LINK.value, _ref(session.get("payment_link"))))
    for item in line_items or []:
        price = _ref(item.get("price"))
        if price:
            keys.append((EventMapping.Kind.STRIPE_PRICE.value, price))
    for k, v in sorted((session.get("metadata") or {}).items()):
        keys.append((EventMapping.Kind.STRIPE_METADATA.value, f"{k}={v}"))
    return tuple(keys)


def session_status(session: dict, event_type: str = "") -> str:
    if event_type == "checkout.session.async_payment_failed":
        return "failed"
    if event_type == "checkout.session.expired" or session.get("status") == "expired":
        return "expired"
    if session.get("payment_status") in ("paid", "no_payment_required"):
        return "paid"
    return "unpaid"


def session_to_signal(
    session: dict,
    *,
    event_type: str = "",
    line_items: list[dict] | None = None,
    raw_ref: str = "",
    occurred_at: datetime | None = None,
) -> PaymentSignal:
    """A Checkout Session (from a ``checkout.session.*`` event or the API) as a PaymentSignal.

    The payer is ``customer_details`` (``customer_email`` is only a prefill and is null for
    Payment Links) and its phone is normalised to E.164 ("" when not a number); money decisions
    use ``payment_status``, never ``status``; the line items, which the webhook payload never
    includes (pass them in), become ``line_items`` (price id, quantity) pairs, not a quantity: a
    Payment Link can sell add-ons (a lunch, a T-shirt) next to the ticket, and which of them are
    seats is decided once the event is known (``registrations.payments._count_seats``).
    """
    if session.get("object") not in (None, "checkout.session"):
        raise ValueError(f"not a checkout session: {session.get('object')!r}")
    items = line_items if line_items is not None else line_items_of(session)
    # An expanded list holds the first 10 items only (``has_more``): its prices still name the
    # event, but its seats would be counted short, so the list is left for a full fetch (the
    # webhook's, or reconciliation's) to store.
    partial = line_items is None and bool(_get(session, "line_items", "has_more"))
    details = session.get("customer_details") or {}
    return PaymentSignal(
        status=session_status(session, event_type),
        source_id=session.get("id") or "",
        checkout_session_id=session.get("id") or "",
        payment_intent_id=_ref(session.get("payment_intent")),
        event_keys=session_event_keys(session, items),
        email=details.get("email") or session.get("customer_email") or "",
        name=details.get("name") or "",
        # E.164 like an Acuity phone (``bookings.observed_values``): an SMS reminder goes to the
        # number as Twilio needs it, and matching by phone compares like with like.
        phone=normalise_phone(details.get("phone") or ""),
        amount=session.get("amount_total"),
        currency=(session.get("currency") or "").lower(),
        line_items=() if partial else line_item_pairs(items),
        client_reference_id=session.get("client_reference_id") or "",
        livemode=bool(session.get("livemode")),
        occurred_at=occurred_at or _ts(session.get("created")),
        raw_ref=raw_ref,
    )


def payment_intent_to_signal(pi: dict, *, raw_ref: str = "", occurred_at: datetime | None = None) -> PaymentSignal:
    """A succeeded PaymentIntent. It carries no payment link: map it through its session."""
    return PaymentSignal(
        status="paid" if pi.get("status") == "succeeded" else "unpaid",
        source_id=pi.get("id") or "",
        payment_intent_id=pi.get("id") or "",
        # A link's ``payment_intent_data.metadata`` lands here, so metadata mappings work for it too.
        event_keys=tuple(
            (EventMapping.Kind.STRIPE_METADATA.value, f"{k}={v}") for k, v in sorted((pi.get("metadata") or {}).items())
        ),
        charge_id=_ref(pi.get("latest_charge")),
        amount=pi.get("amount"),
        currency=(pi.get("currency") or "").lower(),
        livemode=bool(pi.get("livemode")),
        occurred_at=occurred_at or _ts(pi.get("created")),
        raw_ref=raw_ref,
    )


def charge_refunded_to_signal(charge: dict, *, raw_ref: str = "") -> PaymentSignal:
    """``charge.refunded``: ``amount_refunded`` is cumulative (``refunded`` stays false when partial)."""
    return PaymentSignal(
        status="refunded",
        source_id=charge.get("id") or "",
        charge_id=charge.get("id") or "",
        payment_intent_id=_ref(charge.get("payment_intent")),
        amount=charge.get("amount"),
        currency=(charge.get("currency") or "").lower(),
        amount_refunded=int(charge.get("amount_refunded") or 0),
        livemode=bool(charge.get("livemode")),
        occurred_at=timezone.now(),
        raw_ref=raw_ref,
    )


def refund_to_signal(refund: dict, *, raw_ref: str = "") -> PaymentSignal:
    return PaymentSignal(
        status="refunded",
        source_id=refund.get("id") or "",
        refund_id=refund.get("id") or "",
        refund_status=refund.get("status") or "",
        failure_reason=str(refund.get("failure_reason") or "")[:100],
        charge_id=_ref(refund.get("charge")),
        payment_intent_id=_ref(refund.get("payment_intent")),
        amount_refunded=int(refund.get("amount") or 0),
        currency=(refund.get("currency") or "").lower(),
        reason=refund.get("reason") or "",
        occurred_at=_ts(refund.get("created")),
        raw_ref=raw_ref,
    )


def dispute_to_signal(dispute: dict, *, raw_ref: str = "", occurred_at: datetime | None = None) -> PaymentSignal:
    return PaymentSignal(
        status="disputed",
        source_id=dispute.get("id") or "",
        dispute_id=dispute.get("id") or "",
        dispute_status=dispute.get("status") or "",
        charge_id=_ref(dispute.get("charge")),
        payment_intent_id=_ref(dispute.get("payment_intent")),
        amount=dispute.get("amount"),
        currency=(dispute.get("currency") or "").lower(),
        reason=dispute.get("reason") or "",
        livemode=bool(dispute.get("livemode")),
        occurred_at=occurred_at or timezone.now(),
        raw_ref=raw_ref,
    )


def appointment_to_signal(
    appt: dict, *, action: str = "", raw_ref: str = "", observed_at: datetime | None = None
) -> BookingSignal:
    """An Acuity appointment as returned by ``GET /appointments/{id}`` — the API is the truth.

    Only ``datetime`` is ISO (``date``/``time``/``endTime`` are human-readable); ``type`` is a
    name, so events are matched on ``appointmentTypeID``. ``observed_at`` orders observations of
    the same appointment: the newest fetch wins.
    """
    if "id" not in appt:
        raise ValueError("not an Acuity appointment (no id)")
    starts_at = None
    if appt.get("datetime"):
        try:
            starts_at = datetime.fromisoformat(appt["datetime"])
        except ValueError:
            starts_at = None
    intake, by_id = {}, {}
    for form in appt.get("forms") or []:
        for value in form.get("values") or []:
            label = value.get("name") or str(value.get("fieldID"))
            intake[label] = value.get("value") or ""
            if value.get("fieldID") is not None:
                by_id[str(value["fieldID"])] = value.get("value") or ""
    action = (action or "").removeprefix("appointment.")
    if appt.get("canceled"):
        status = "cancelled"
    elif action == "rescheduled":
        status = "rescheduled"
    else:
        status = "booked"
    type_id = appt.get("appointmentTypeID")
    return BookingSignal(
        status=status,
        source_id=str(appt["id"]),
        event_keys=((EventMapping.Kind.ACUITY_APPOINTMENT_TYPE.value, str(type_id)),) if type_id else (),
        email=appt.get("email") or "",
        first_name=appt.get("firstName") or "",
        last_name=appt.get("lastName") or "",
        phone=appt.get("phone") or "",
        starts_at=starts_at,
        timezone=appt.get("timezone") or "",
        calendar_id=str(appt.get("calendarID") or ""),
        appointment_type_id=str(type_id or ""),
        intake=intake,
        intake_by_field_id=by_id,
        occurred_at=observed_at or timezone.now(),
        raw_ref=raw_ref,
    )
