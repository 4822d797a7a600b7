"""Seats of a group payment follow its refund: refunded in full, every seat holder is refunded
(whichever way the seat was handed out, and whenever); a refund that fails gives the seats back;
a partial refund leaves the seats for an operator to decide. See registrations/seats.py."""

from dataclasses import replace

import pytest

from registrations.audit import Actor
from registrations.models import AuditLog, Payment, Registration, ReviewItem, SeatReference, Status
from registrations.ops.stats import event_stats
from registrations.resolutions import assign_group_seats
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment
from registrations.signals import PaymentSignal

from .builders import booked, paid, refunded

pytestmark = pytest.mark.django_db

PRICE = 12000
GROUP = 3 * PRICE
PAYER = "pat.payer@example.org"
FRIENDS = [("sam.guest@example.org", "Sam", "Guest"), ("alex.other@example.org", "Alex", "Other")]


def reg_of(email) -> Registration:
    return Registration.objects.get(attendee__email=email)


def status_of(email) -> str:
    return reg_of(email).status


def group_payment() -> Payment:
    return Payment.objects.get(method=Payment.Method.STRIPE)


def seat_payment_of(email) -> Payment:
    return Payment.objects.get(method=Payment.Method.GROUP_SEAT, registration=reg_of(email))


def buy_group(*, quantity=3):
    """Pat pays for three seats in one payment and books their own seat."""
    apply_payment(paid(1, PAYER, name="Pat Payer", quantity=quantity, amount=GROUP))
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))


def issue_links():
    issue_seat_references(group_payment(), Actor.system("handoff"))


def book_with_seat_links():
    """Each friend books with their own seat link from Pat's payment page."""
    for n, (email, first, last) in enumerate(FRIENDS, start=2):
        ref = SeatReference.objects.get(payment=group_payment(), seat=n).reference
        apply_booking(booked(200 + n, email, first=first, last=last, intake={"ref": ref}))


def full_refund():
    apply_payment(refunded(1, GROUP))  # charge.refunded: the whole group payment


def seat_refund_rows(email, words="refunded in full"):
    """Audit rows on the seat payment that say the group's refund is why it changed."""
    seat = seat_payment_of(email)
    return AuditLog.objects.filter(
        object_type="Payment", object_id=str(seat.pk), after__because__icontains=words
    ).order_by("pk")


# A refund that Stripe first counts (refund pending, then the charge's cumulative total) and that
# then fails: the group payment's amount_refunded goes back to 0.
PENDING = PaymentSignal(
    status="refunded",
    refund_id="re_group",
    refund_status="pending",
    charge_id="ch_1",
    payment_intent_id="pi_1",
    amount_refunded=GROUP,
    raw_ref="evt_re_created",
)
FAILED = replace(PENDING, refund_status="failed", raw_ref="evt_re_failed")


def refund_counted():
    apply_payment(PENDING)
    apply_payment(refunded(1, GROUP))


def refund_failed():
    apply_payment(FAILED)


# --- refunded in full ----------------------------------------------------------------------------
def test_a_group_payment_refunded_in_full_refunds_every_seat_holder_once(event):
    buy_group()
    issue_links()
    book_with_seat_links()
    assert [status_of(e) for e, _, _ in FRIENDS] == [Status.COMPLETE, Status.COMPLETE]

    full_refund()

    assert status_of(PAYER) == Status.REFUNDED
    for email, _, _ in FRIENDS:
        assert status_of(email) == Status.REFUNDED
        seat = seat_payment_of(email)
        assert seat.fully_refunded and seat.amount == 0 and seat.amount_refunded == 0
        (row,) = seat_refund_rows(email)
        assert row.action == "payment.updated"
        assert row.registration == reg_of(email)
        assert row.before == {"refunded_with_group": False}
        assert row.after["refunded_with_group"] is True
        assert str(group_payment()) in row.after["because"]
    # The money is counted once: the seats add nothing to the refunded total.
    assert event_stats([event])[event.pk].refunded == GROUP

    # The same refund told again (a redelivery, and the refund's own event) changes nothing.
    holders = [e for e, _, _ in FRIENDS]
    rows_before = AuditLog.objects.filter(registration__attendee__email__in=holders).count()
    full_refund()
    apply_payment(replace(PENDING, refund_status="succeeded", raw_ref="evt_re_succeeded"))
    for email in holders:
        assert status_of(email) == Status.REFUNDED
        assert seat_refund_rows(email).count() == 1
    assert AuditLog.objects.filter(registration__attendee__email__in=holders).count() == rows_before


@pytest.mark.parametrize(
    "order",
    [
        "refund after the seats are booked",
        "refund before the seats are booked",
        "refund before the payment itself",
    ],
)
def test_a_seat_booked_after_the_full_refund_is_born_refunded(event, order):
    if order == "refund before the payment itself":
        full_refund()  # Stripe's refund event overtook the checkout event
    buy_group()
    issue_links()
    if order == "refund before the seats are booked":
        full_refund()
    book_with_seat_links()
    if order == "refund after the seats are booked":
        full_refund()

    for email, _, _ in FRIENDS:
        assert status_of(email) == Status.REFUNDED
        assert seat_payment_of(email).refunded_with_group
        # Exactly one row says why, whether the seat turned refunded or was born so.
        assert seat_refund_rows(email).count() == 1
    assert status_of(PAYER) == Status.REFUNDED


# --- a refund that fails -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "order",
    [
        "seats booked, refund counted, refund failed",
        "refund counted, seats booked, refund failed",
        "refund counted, refund failed, seats booked",
    ],
)
def test_seats_are_live_again_when_the_groups_refund_fails(event, order):
    buy_group()
    issue_links()
    steps = {"seats booked": book_with_seat_links, "refund counted": refund_counted, "refund failed": refund_failed}
    for step in order.split(", "):
        steps[step]()

    assert group_payment().amount_refunded == 0
    # The payer is paid and booked again, with a "Refund failed" card about the refund that did not
    # give the money back: they need review until an operator deals with it.
    assert status_of(PAYER) == Status.NEEDS_REVIEW
    (card,) = ReviewItem.objects.filter(kind=ReviewItem.Kind.REFUND_FAILED, state=ReviewItem.State.OPEN)
    assert card.registration == reg_of(PAYER)
    for email, _, _ in FRIENDS:
        assert status_of(email) == Status.COMPLETE
        assert not seat_payment_of(email).fully_refunded
        # If the seat was ever shown refunded, its timeline also says it no longer is.
        assert seat_refund_rows(email).count() == seat_refund_rows(email, "no longer counts in full").count()


def test_a_failed_refund_audits_the_seat_coming_back(event):
    buy_group()
    issue_links()
    book_with_seat_links()
    refund_counted()
    assert status_of(FRIENDS[0][0]) == Status.REFUNDED
    refund_failed()
    refund_failed()  # redelivered
    email = FRIENDS[0][0]
    assert status_of(email) == Status.COMPLETE
    (row,) = seat_refund_rows(email, "no longer counts in full")
    assert row.before == {"refunded_with_group": True} and row.after["refunded_with_group"] is False


# --- partial refund ------------------------------------------------------------------------------
def test_a_partial_refund_of_the_group_leaves_every_seat_for_an_operator(event):
    buy_group()
    issue_links()
    book_with_seat_links()

    apply_payment(refunded(1, PRICE))  # one seat's worth: which seat is not ours to guess

    assert status_of(PAYER) == Status.COMPLETE
    for email, _, _ in FRIENDS:
        assert status_of(email) == Status.COMPLETE
        assert not seat_payment_of(email).refunded_with_group
        assert not AuditLog.objects.filter(
            action="payment.updated", object_type="Payment", object_id=str(seat_payment_of(email).pk)
        ).exists()

    apply_payment(refunded(1, GROUP))  # the rest refunded later: now the whole group is
    for email, _, _ in FRIENDS:
        assert status_of(email) == Status.REFUNDED


# --- seats an operator assigned ------------------------------------------------------------------
@pytest.mark.parametrize("quantity", [3, 1], ids=["three seats bought", "one line paying three times the price"])
@pytest.mark.parametrize("refund_first", [False, True], ids=["assigned then refunded", "refunded then assigned"])
def test_seats_an_operator_assigned_follow_the_group_refund_too(event, admin_user, quantity, refund_first):
    buy_group(quantity=quantity)
    apply_booking(booked(300, "fran.booker@example.org", first="Fran", last="Booker"))
    fran = reg_of("fran.booker@example.org")
    assert fran.status == Status.BOOKED_ONLY
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert item.data["seats"] == 3

    def assign():
        assign_group_seats(
            item.pk,
            [{"registration_id": fran.pk}, {"name": "Nia Named", "email": "nia.named@example.org"}],
            Actor.operator(admin_user),
        )

    if refund_first:
        full_refund()
        assign()
    else:
        assign()
        assert status_of("fran.booker@example.org") == Status.COMPLETE
        assert status_of("nia.named@example.org") == Status.PAID_ONLY
        full_refund()

    for email in ("fran.booker@example.org", "nia.named@example.org"):
        assert status_of(email) == Status.REFUNDED
        assert seat_refund_rows(email).count() == 1

    full_refund()  # redelivery
    for email in ("fran.booker@example.org", "nia.named@example.org"):
        assert seat_refund_rows(email).count() == 1
