"""Small signal builders for domain tests (provider-neutral, no SDK)."""

from datetime import UTC, datetime, timedelta

from registrations.signals import BookingSignal, PaymentSignal

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PLINK = "plink_retreat"
ATYPE = "4440001"


def at(hours: float = 0) -> datetime:
    return T0 + timedelta(hours=hours)


def paid(
    n: int | str,
    email: str = "river@example.org",
    *,
    amount: int = 12000,
    quantity: int = 1,
    plink: str = PLINK,
    name: str = "River Stone",
    phone: str = "",
    hours: float = 0,
    ref: str = "",
    status: str = "paid",
) -> PaymentSignal:
    return PaymentSignal(
        status=status,
        source_id=f"cs_{n}",
        checkout_session_id=f"cs_{n}",
        payment_intent_id=f"pi_{n}",
        event_keys=(("stripe_payment_link", plink),),
        email=email,
        name=name,
        phone=phone,
        amount=amount,
        currency="usd",
        quantity=quantity,
        client_reference_id=ref,
        occurred_at=at(hours),
        raw_ref=f"evt_pay_{n}",
    )


def pi_succeeded(n, *, amount: int = 12000, hours: float = 0) -> PaymentSignal:
    return PaymentSignal(
        status="paid",
        source_id=f"pi_{n}",
        payment_intent_id=f"pi_{n}",
        charge_id=f"ch_{n}",
        amount=amount,
        currency="usd",
        occurred_at=at(hours),
        raw_ref=f"evt_pi_{n}",
    )


def refunded(n, cumulative: int, *, hours: float = 1) -> PaymentSignal:
    return PaymentSignal(
        status="refunded",
        source_id=f"ch_{n}",
        charge_id=f"ch_{n}",
        payment_intent_id=f"pi_{n}",
        amount_refunded=cumulative,
        occurred_at=at(hours),
        raw_ref=f"evt_ref_{n}_{cumulative}",
    )


def disputed(n, *, amount: int = 12000, status: str = "needs_response", hours: float = 2) -> PaymentSignal:
    return PaymentSignal(
        status="disputed",
        source_id=f"dp_{n}",
        dispute_id=f"dp_{n}",
        dispute_status=status,
        charge_id=f"ch_{n}",
        payment_intent_id=f"pi_{n}",
        amount=amount,
        reason="fraudulent",
        occurred_at=at(hours),
        raw_ref=f"evt_dp_{n}_{status}",
    )


def booked(
    n,
    email: str = "river@example.org",
    *,
    status: str = "booked",
    first: str = "River",
    last: str = "Stone",
    phone: str = "",
    start_day: int = 10,
    hours: float = 0.5,
    atype: str = ATYPE,
    intake: dict | None = None,
) -> BookingSignal:
    return BookingSignal(
        status=status,
        source_id=str(n),
        event_keys=(("acuity_appointment_type", atype),),
        email=email,
        first_name=first,
        last_name=last,
        phone=phone,
        starts_at=datetime(2026, 12, start_day, 18, 0, tzinfo=UTC),
        timezone="America/Los_Angeles",
        appointment_type_id=atype,
        intake=intake or {},
        intake_by_field_id={},
        occurred_at=at(hours),
        raw_ref=f"acuity:{n}:{status}:{start_day}",
    )
