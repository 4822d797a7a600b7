"""A bank debit that stays "awaiting funds" holds the payment reminders while it clears; one that
never clears (no async_payment_succeeded / _failed ever came) reaches an operator after
PAYMENT_CLEARING_REVIEW_DAYS, and the reminders then follow what the operator decides."""

import html
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from notifications.models import Reminder
from notifications.scan import run_scan
from notifications.tokens import status_token
from registrations.models import AuditLog, Payment, Registration, ReviewItem, Status
from registrations.services import apply_booking, apply_payment
from registrations.signals import BookingSignal, PaymentSignal
from registrations.templatetags.ops_format import card_text

from .conftest import ATYPE, PLINK

pytestmark = pytest.mark.django_db

EMAIL = "river.stone@example.org"
NOT_CLEARED = "payment_not_cleared"


@pytest.fixture
def ops_client(client):
    user = get_user_model().objects.create_user("olive.operator", "olive@jlf.example", "pw-Olive-4821", is_staff=True)
    client.force_login(user)
    return client


def _age(reg, hours=48):
    Registration.objects.filter(pk=reg.pk).update(status_changed_at=timezone.now() - timedelta(hours=hours))


def booked_then_debit(*, days_ago: float, fake_stripe=None) -> Registration:
    """Booked, then paid by bank debit ``days_ago``: Stripe completed the checkout "unpaid" and
    nothing about it has arrived since."""
    reg = apply_booking(
        BookingSignal(
            status="booked",
            source_id="900000001",
            event_keys=(("acuity_appointment_type", ATYPE),),
            email=EMAIL,
            first_name="River",
            last_name="Stone",
            starts_at=timezone.now() + timedelta(days=20),
            raw_ref="acuity-1",
        )
    ).registration
    at = timezone.now() - timedelta(days=days_ago)
    apply_payment(
        PaymentSignal(
            status="unpaid",
            source_id="cs_debit",
            checkout_session_id="cs_debit",
            event_keys=(("stripe_payment_link", PLINK),),
            email=EMAIL,
            name="River Stone",
            amount=12000,
            currency="usd",
            quantity=1,
            occurred_at=at,
            raw_ref="evt_debit",
        )
    )
    if fake_stripe is not None:  # what the reminder's live check finds in Stripe: still unpaid
        fake_stripe.add_session(
            email=EMAIL,
            payment_link=PLINK,
            payment_status="unpaid",
            status="complete",
            session_id="cs_debit",
            created=int(at.timestamp()),
        )
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY and reg.payments.get().state == Payment.State.UNPAID
    _age(reg)
    return reg


def open_item() -> ReviewItem:
    return ReviewItem.objects.get(kind=NOT_CLEARED, state=ReviewItem.State.OPEN)


def test_a_bank_debit_still_not_cleared_after_14_days_is_put_in_front_of_an_operator(event, fake_stripe, ops_client):
    reg = booked_then_debit(days_ago=15, fake_stripe=fake_stripe)

    run_scan(process="inline")

    assert mail.outbox == []  # still no "please pay" on the system's own
    item = open_item()
    assert item.registration == reg and item.payment == reg.payments.get()
    assert "awaiting funds after 15 days" in item.explanation
    reg.refresh_from_db()
    assert reg.status == Status.NEEDS_REVIEW
    page = html.unescape(ops_client.get(reverse("ops:queue")).content.decode())
    assert "Bank payment not cleared" in page and card_text(item.explanation) in page  # the page's formats
    assert "remind them to pay" in page and "Keep waiting" in page
    # A second scan does not open a second card.
    run_scan(process="inline")
    assert ReviewItem.objects.filter(kind=NOT_CLEARED).count() == 1


def test_a_bank_debit_clearing_for_a_few_days_is_left_alone(event, fake_stripe):
    reg = booked_then_debit(days_ago=3, fake_stripe=fake_stripe)

    run_scan(process="inline")

    assert not ReviewItem.objects.filter(kind=NOT_CLEARED).exists()
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY and mail.outbox == []


def test_the_number_of_days_is_a_setting(event, fake_stripe, settings):
    settings.PAYMENT_CLEARING_REVIEW_DAYS = 30
    booked_then_debit(days_ago=15, fake_stripe=fake_stripe)
    run_scan(process="inline")
    assert not ReviewItem.objects.filter(kind=NOT_CLEARED).exists()

    settings.PAYMENT_CLEARING_REVIEW_DAYS = 10
    run_scan(process="inline")
    assert open_item()


def test_when_the_operator_says_it_is_not_coming_the_payment_reminder_goes_out(event, fake_stripe, ops_client, client):
    reg = booked_then_debit(days_ago=15, fake_stripe=fake_stripe)
    run_scan(process="inline")
    item = open_item()

    response = ops_client.post(reverse("ops:queue_action", args=[item.pk, "remind"]), {"note": "no sign of it"})

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.state, item.resolution) == (ReviewItem.State.RESOLVED, "remind_to_pay")
    assert AuditLog.objects.filter(action="review.resolved.remind_to_pay", actor_type="operator").exists()
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY
    _age(reg)

    # The live check still finds the unpaid checkout in Stripe; the operator's decision stands.
    assert run_scan(process="inline").outcomes == {"sent": 1}
    assert len(mail.outbox) == 1 and "buy.stripe.com/test_spring" in mail.outbox[0].body
    assert Reminder.objects.get(registration=reg).status == Reminder.Status.SENT
    page = client.get(f"/n/status/{status_token(reg.pk)}/").content.decode()
    assert "Complete my payment" in page
    # Not flagged again for the same debit.
    run_scan(process="inline", now=timezone.now() + timedelta(days=15))
    assert ReviewItem.objects.filter(kind=NOT_CLEARED).count() == 1


def test_when_the_operator_keeps_waiting_nobody_is_reminded_and_it_comes_back_later(event, fake_stripe, ops_client):
    reg = booked_then_debit(days_ago=15, fake_stripe=fake_stripe)
    run_scan(process="inline")
    item = open_item()

    ops_client.post(reverse("ops:queue_action", args=[item.pk, "wait"]), {"note": "attendee says bank is slow"})

    item.refresh_from_db()
    assert (item.state, item.resolution) == (ReviewItem.State.RESOLVED, "keep_waiting")
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY
    _age(reg)
    run_scan(process="inline")
    assert mail.outbox == [] and not Reminder.objects.filter(registration=reg).exists()
    assert not ReviewItem.objects.filter(kind=NOT_CLEARED, state=ReviewItem.State.OPEN).exists()

    # Still not cleared another 14 days on: the operator is asked again.
    ReviewItem.objects.filter(pk=item.pk).update(resolved_at=timezone.now() - timedelta(days=15))
    run_scan(process="inline")
    again = open_item()
    assert again.pk != item.pk and again.payment_id == item.payment_id
    assert mail.outbox == []


def test_the_card_closes_itself_when_the_debit_finally_clears(event, fake_stripe):
    reg = booked_then_debit(days_ago=15, fake_stripe=fake_stripe)
    run_scan(process="inline")
    item = open_item()

    apply_payment(
        PaymentSignal(
            status="paid",
            source_id="cs_debit",
            checkout_session_id="cs_debit",
            event_keys=(("stripe_payment_link", PLINK),),
            email=EMAIL,
            amount=12000,
            currency="usd",
            raw_ref="evt_async_succeeded",
        )
    )

    item.refresh_from_db()
    assert item.state == ReviewItem.State.RESOLVED and item.resolution.startswith("auto:")
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE
