"""Which stalled bank debits reach the operators: a debit that can never be flagged (its
registration was paid another way) must not keep others from being flagged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from registrations.clearing import flag_stalled_debits
from registrations.models import Registration, ReviewItem
from registrations.services import apply_booking, apply_payment
from registrations.signals import BookingSignal, PaymentSignal

from .conftest import ATYPE, PLINK

pytestmark = pytest.mark.django_db


def _booked(email: str, n: int) -> None:
    apply_booking(
        BookingSignal(
            status="booked",
            source_id=f"90000{n}",
            event_keys=(("acuity_appointment_type", ATYPE),),
            email=email,
            first_name=email.split("@")[0].title(),
            last_name="Example",
            starts_at=timezone.now() + timedelta(days=20),
            raw_ref=f"acuity-{n}",
        )
    )


def _paid(email: str, sid: str, status: str, days_ago: float) -> None:
    apply_payment(
        PaymentSignal(
            status=status,
            source_id=sid,
            checkout_session_id=sid,
            event_keys=(("stripe_payment_link", PLINK),),
            email=email,
            name=email.split("@")[0].title(),
            amount=12000,
            currency="usd",
            quantity=1,
            occurred_at=timezone.now() - timedelta(days=days_ago),
            raw_ref=f"evt_{sid}",
        )
    )


def test_a_stalled_debit_is_flagged_even_behind_debits_of_people_who_paid_another_way(event):
    # Ada's debit never cleared, but she then paid by card: nothing to ask an operator about.
    _booked("ada@example.org", 1)
    _paid("ada@example.org", "cs_ada_debit", "unpaid", days_ago=30)
    _paid("ada@example.org", "cs_ada_card", "paid", days_ago=29)
    # Ben's debit never cleared and nothing else came: his reminders are held for ever.
    _booked("ben@example.org", 2)
    _paid("ben@example.org", "cs_ben_debit", "unpaid", days_ago=20)

    # However many scans run, with room for one debit per scan, Ben's is flagged.
    flagged = sum(flag_stalled_debits(limit=1) for _ in range(3))

    ben = Registration.objects.get(attendee__email="ben@example.org")
    assert flagged == 1
    assert ReviewItem.objects.filter(kind="payment_not_cleared", registration=ben).exists()
    assert not ReviewItem.objects.filter(registration__attendee__email="ada@example.org").exists()


def test_a_pending_debit_at_a_donation_event_is_not_sent_for_review(event):
    """At a donation-based event a booking is the whole registration: a gift by bank debit that
    never clears holds nothing back, so it must not make a complete registration 'needs review'
    with a card saying reminders are on hold."""
    from registrations.models import Event, Status

    Event.objects.filter(pk=event.pk).update(kind=Event.Kind.DONATION)
    _booked("cleo@example.org", 3)
    _paid("cleo@example.org", "cs_cleo_debit", "unpaid", days_ago=20)
    reg = Registration.objects.get(attendee__email="cleo@example.org")
    assert reg.status == Status.COMPLETE

    assert flag_stalled_debits() == 0
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE
    assert not ReviewItem.objects.filter(kind=ReviewItem.Kind.PAYMENT_NOT_CLEARED).exists()
