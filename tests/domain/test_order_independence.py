"""The design rule: the final state depends on the *set* of signals received, not on their order
or on how many times each was delivered (Stripe and Acuity both retry and neither orders)."""

import os

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registrations.models import Booking, Payment, Registration, ReviewItem
from registrations.services import apply_booking, apply_payment
from registrations.signals import PaymentSignal

from .builders import booked, disputed, paid, pi_succeeded, refunded

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "200"))


def _pool():
    """Signals for three attendees. Attendee 3 pays as c@ but books as c.home@ with the same
    phone, so a suggested match appears or not depending on what else arrived."""
    pool = []
    for i, email in ((1, "a@example.org"), (2, "b@example.org")):
        pool += [
            paid(i, email, hours=i),
            pi_succeeded(i, hours=i),
            refunded(i, 4000, hours=i + 5),
            # a's payment is refunded in full; b's in part (a pair with a payment refunded in
            # full is settled, and b's two payments must stay a duplicate for the pool to cover it)
            refunded(i, 12000 if i == 1 else 8000, hours=i + 6),
            disputed(i, hours=i + 7),
            disputed(i, status="won", hours=i + 9),
            booked(i, email, hours=i + 0.5),
            booked(i, email, status="rescheduled", start_day=12, hours=i + 2),
            booked(i, email, status="cancelled", start_day=12, hours=i + 8),
        ]
    pool += [
        paid("2b", "b@example.org", hours=4),  # a second payment within 24 h: duplicate
        paid("3", "c@example.org", phone="+14155550199", name="Cee Jay", quantity=2, amount=24000, hours=3),
        booked(3, "c.home@example.org", phone="(415) 555-0199", first="Sea", last="Kay", hours=3.5),
    ]
    return pool


POOL = _pool()


def _natural(signal) -> tuple:
    return (type(signal).__name__, signal.raw_ref)


def snapshot() -> dict:
    payments = {
        (p.checkout_session_id, p.payment_intent_id): (
            p.state,
            p.amount,
            p.amount_refunded,
            p.disputed,
            p.quantity,
            p.charge_id,
            p.registration.attendee.email if p.registration else None,
        )
        for p in Payment.objects.select_related("registration__attendee")
    }
    bookings = {
        b.acuity_appointment_id: (
            b.cancelled,
            b.starts_at,
            tuple(b.start_times_seen),
            b.registration.attendee.email if b.registration else None,
        )
        for b in Booking.objects.select_related("registration__attendee")
    }
    statuses = {r.attendee.email: r.status for r in Registration.objects.select_related("attendee")}
    items = set()
    for item in ReviewItem.objects.filter(state=ReviewItem.State.OPEN).select_related(
        "payment", "booking", "registration__attendee", "counterpart__attendee"
    ):
        people = frozenset(r.attendee.email for r in (item.registration, item.counterpart) if r is not None)
        items.add(
            (
                item.kind,
                item.payment.checkout_session_id if item.payment else None,
                item.booking.acuity_appointment_id if item.booking else None,
                people,
            )
        )
    return {"payments": payments, "bookings": bookings, "statuses": statuses, "open_items": items}


def apply_all(signals) -> dict:
    with transaction.atomic():
        for signal in signals:
            (apply_payment if isinstance(signal, PaymentSignal) else apply_booking)(signal)
        state = snapshot()
        transaction.set_rollback(True)
    return state


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_final_state_is_independent_of_order_and_duplicates(event, data):
    chosen = data.draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=14), label="deliveries")
    delivered = data.draw(st.permutations(chosen), label="order")
    canonical = sorted(set(chosen), key=POOL.index)
    assert apply_all(delivered) == apply_all(canonical)


def test_the_pool_exercises_every_kind_of_finding(event):
    """Guard against a pool that silently stops covering the review kinds."""
    state = apply_all(POOL)
    kinds = {kind for kind, *_ in state["open_items"]}
    assert {"dispute", "group_payment", "duplicate_payment", "suggested_match"} <= kinds
