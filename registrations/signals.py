"""Provider-neutral signals: what every webhook, reconciliation, backfill, handoff redirect and
the demo simulator turn a provider message into before it touches the domain.

They are plain frozen dataclasses, so they can be built in tests without any provider SDK and
compared for equality. ``apply_payment`` / ``apply_booking`` in ``registrations.services`` are
the only consumers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class PaymentSignal:
    """Something Stripe said about a payment.

    ``status`` is one of:
      - "paid" / "unpaid" / "failed" / "expired": a checkout session (or payment intent) state;
        carries the ids it knows, amount, currency, quantity (or ``line_items``), the payer and
        ``event_keys``.
      - "refunded": ``amount_refunded`` is either the charge's cumulative total
        (``refund_id`` empty, from ``charge.refunded``) or one refund's amount (``refund_id`` set,
        from ``refund.*`` events, with ``refund_status``).
      - "disputed": ``dispute_id``, ``dispute_status`` and ``amount``.
    """

    status: str
    source_id: str = ""  # the provider object this signal is about (cs_…, pi_…, ch_…, re_…, dp_…)
    checkout_session_id: str = ""
    payment_intent_id: str = ""
    charge_id: str = ""
    event_keys: tuple = ()  # ((mapping kind, value), …) e.g. (("stripe_payment_link", "plink_…"),)
    email: str = ""
    name: str = ""
    phone: str = ""
    amount: int | None = None
    currency: str = ""
    quantity: int | None = None
    # A checkout session's line items as ((price id, quantity), …). How many of them are seats
    # depends on the event, known only when the payment is applied (``payments._count_seats``),
    # so a session's signal carries these and no ``quantity``.
    line_items: tuple = ()
    client_reference_id: str = ""
    livemode: bool = False
    amount_refunded: int = 0
    refund_id: str = ""
    refund_status: str = ""
    # A refund that failed: Stripe's ``failure_reason`` (lost_or_stolen_card, declined, …).
    failure_reason: str = ""
    dispute_id: str = ""
    dispute_status: str = ""
    reason: str = ""
    occurred_at: datetime | None = None
    # A delayed method (bank debit): when Stripe said its funds arrived (the time of its
    # ``checkout.session.async_payment_succeeded``); None for a payment paid at checkout.
    cleared_at: datetime | None = None
    raw_ref: str = ""  # the delivery that told us (evt_…, "reconcile:<run>", "handoff")


@dataclass(frozen=True)
class BookingSignal:
    """What Acuity says an appointment looks like now (status: booked / rescheduled / cancelled)."""

    status: str
    source_id: str  # Acuity appointment id
    event_keys: tuple = ()  # (("acuity_appointment_type", "4440001"),)
    email: str = ""  # may hold several comma-separated addresses, as Acuity allows
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    starts_at: datetime | None = None
    timezone: str = ""
    calendar_id: str = ""
    appointment_type_id: str = ""
    intake: dict = field(default_factory=dict)  # {label: value}
    intake_by_field_id: dict = field(default_factory=dict)  # {field id (str): value}
    occurred_at: datetime | None = None
    raw_ref: str = ""

    def __hash__(self):  # intake dicts are not hashable; identity is the delivery content
        return hash((self.status, self.source_id, self.starts_at, self.occurred_at, self.raw_ref))
