"""A group payment first seen as two rows (Stripe's ``payment_intent.succeeded`` arrived before
the checkout session carried its payment intent) whose seats were handed out on the session's
row: when a later event shows both rows are one payment and they are merged, the seats still
belong to it. A full refund of the group refunds every seat holder, the seats are keyed to the
row that is kept, and an operator assigning seats afterwards cannot give a seat twice.
See ``registrations.payments._merge_payment_rows`` and ``registrations/seats.py``."""

from dataclasses import replace

import pytest

from registrations.audit import Actor
from registrations.models import AuditLog, Payment, Registration, ReviewItem, SeatReference, Status
from registrations.resolutions import ResolutionError, assign_group_seats
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment

from .builders import PLINK, booked, paid, pi_succeeded, refunded

pytestmark = pytest.mark.django_db

PRICE = 12000
GROUP = 3 * PRICE
PAYER = "pat.payer@example.org"
FRIENDS = [("sam.guest@example.org", "Sam", "Guest"), ("alex.other@example.org", "Alex", "Other")]
FRAN, NIA, OLU = "fran.booker@example.org", "nia.named@example.org", "olu.named@example.org"


def reg_of(email) -> Registration:
    return Registration.objects.get(attendee__email=email)


def status_of(email) -> str:
    return reg_of(email).status


def stripe_rows() -> list[Payment]:
    return list(Payment.objects.filter(method=Payment.Method.STRIPE).order_by("pk"))


def seat_payment_of(email) -> Payment:
    return Payment.objects.get(method=Payment.Method.GROUP_SEAT, registration=reg_of(email))


def session(*, quantity=3, with_payment_intent=False, raw_ref="evt_session_completed"):
    """The checkout session of Pat's payment for three seats. Stripe may send it before the
    session knows its payment intent; a later event (or reconciliation) carries both ids."""
    signal = paid(1, PAYER, name="Pat Payer", quantity=quantity, amount=GROUP)
    return replace(signal, payment_intent_id=signal.payment_intent_id if with_payment_intent else "", raw_ref=raw_ref)


def pay_as_two_rows(*, quantity=3):
    """The payment intent's event first (its own row: no session, no email), then the session
    (a second row: it shares no id with the first). Pat books their own seat."""
    apply_payment(pi_succeeded(1, amount=GROUP))
    apply_payment(session(quantity=quantity))
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    first, second = stripe_rows()
    assert (first.payment_intent_id, first.checkout_session_id) == ("pi_1", None)
    assert (second.payment_intent_id, second.checkout_session_id) == (None, "cs_1")
    return first, second


def merge():
    """An event that knows both the session and its payment intent: the two rows are one payment."""
    apply_payment(session(with_payment_intent=True, raw_ref="evt_session_async_payment_succeeded"))
    (kept,) = stripe_rows()
    return kept


def book_with_seat_links(group: Payment):
    issue_seat_references(group, Actor.system("handoff"))
    for n, (email, first, last) in enumerate(FRIENDS, start=2):
        ref = SeatReference.objects.get(payment=group, seat=n).reference
        apply_booking(booked(200 + n, email, first=first, last=last, intake={"ref": ref}))


def operator_assigns(admin_user, *emails, payment=None):
    items = ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT, state=ReviewItem.State.OPEN)
    item = items.get(**({"payment": payment} if payment else {}))
    return assign_group_seats(
        item.pk, [{"name": e.split("@")[0], "email": e} for e in emails], Actor.operator(admin_user)
    )


def seat_number(seat: Payment) -> int:
    return int(seat.manual_key.rsplit(":", 1)[1])


# --- full refund after the merge ------------------------------------------------------------------
@pytest.mark.parametrize(
    "handed_out", ["booked with seat links", "assigned by an operator", "assigned, one line at three times the price"]
)
def test_a_full_refund_after_the_merge_refunds_the_seats_handed_out_before_it(event, admin_user, handed_out):
    quantity = 1 if handed_out.startswith("assigned, one line") else 3
    _, session_row = pay_as_two_rows(quantity=quantity)
    if handed_out == "booked with seat links":
        book_with_seat_links(session_row)
        holders = [e for e, _, _ in FRIENDS]
    else:
        operator_assigns(admin_user, FRAN, NIA)
        holders = [FRAN, NIA]
    assert all(status_of(e) != Status.REFUNDED for e in holders)

    kept = merge()
    apply_payment(refunded(1, GROUP))  # charge.refunded: the whole group payment

    assert status_of(PAYER) == Status.REFUNDED
    for email in holders:
        assert status_of(email) == Status.REFUNDED
        seat = seat_payment_of(email)
        assert seat.refunded_with_group and seat.amount == 0
        assert seat.manual_key.startswith(f"seat:{kept.pk}:")


def test_seats_of_a_group_refunded_before_the_merge_count_as_refunded_once_merged(event, admin_user):
    """The refund reached the payment intent's row (the only one that knew the charge) while the
    seats were on the session's row: merging alone makes the seat holders refunded."""
    pay_as_two_rows()
    operator_assigns(admin_user, FRAN, NIA)
    apply_payment(refunded(1, GROUP))
    assert status_of(FRAN) == Status.PAID_ONLY  # not yet known to be the same payment

    kept = merge()

    for email in (FRAN, NIA):
        assert status_of(email) == Status.REFUNDED
        seat = seat_payment_of(email)
        assert seat.refunded_with_group
        assert seat.manual_key.startswith(f"seat:{kept.pk}:")


# --- the seats are the kept row's -----------------------------------------------------------------
def test_merging_rekeys_every_seat_to_the_kept_payment_and_audits_each(event):
    _, session_row = pay_as_two_rows()
    book_with_seat_links(session_row)
    before = {e: seat_payment_of(e).manual_key for e, _, _ in FRIENDS}
    assert before == {FRIENDS[0][0]: f"seat:{session_row.pk}:2", FRIENDS[1][0]: f"seat:{session_row.pk}:3"}

    kept = merge()

    assert kept.pk != session_row.pk and not Payment.objects.filter(pk=session_row.pk).exists()
    for n, (email, _, _) in enumerate(FRIENDS, start=2):
        seat = seat_payment_of(email)
        assert seat.manual_key == f"seat:{kept.pk}:{n}"
        (row,) = AuditLog.objects.filter(
            action="payment.updated", object_type="Payment", object_id=str(seat.pk), after__manual_key__isnull=False
        )
        assert row.registration == reg_of(email)
        assert row.before == {"manual_key": before[email]}
        assert row.after["manual_key"] == seat.manual_key
        # Their booking links stay claimed, on the kept payment.
        assert SeatReference.objects.get(payment=kept, seat=n).registration == reg_of(email)
    assert {s["seat"] for s in Payment.objects.get(pk=kept.pk).seat_assignments} == {2, 3}
    assert status_of(FRIENDS[0][0]) == Status.COMPLETE

    # The same event told again changes nothing and writes nothing more.
    rows = AuditLog.objects.count()
    merge()
    assert AuditLog.objects.count() == rows


def test_an_operator_cannot_give_a_seat_again_after_the_merge(event, admin_user):
    pay_as_two_rows()
    (card,) = ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT)
    issue_seat_references(card.payment, Actor.system("handoff"))
    link = SeatReference.objects.get(payment=card.payment, seat=2).reference
    apply_booking(booked(202, FRAN, first="Fran", last="Booker", intake={"ref": link}))  # seat 2, by its link
    kept = merge()
    # One card, still open (seat 3 is free), now the kept row's.
    (card,) = ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert (card.key, card.state, card.payment_id) == (f"group:{kept.pk}", ReviewItem.State.OPEN, kept.pk)

    with pytest.raises(ResolutionError, match="Only 3 seats were paid for"):
        operator_assigns(admin_user, NIA, OLU)  # the payer and Fran already hold two of the three

    operator_assigns(admin_user, NIA)

    seats = list(Payment.objects.filter(method=Payment.Method.GROUP_SEAT).order_by("pk"))
    assert [(s.registration.attendee.email, s.manual_key) for s in seats] == [
        (FRAN, f"seat:{kept.pk}:2"),
        (NIA, f"seat:{kept.pk}:3"),
    ]
    assert not seat_payment_exists(OLU)


def payment_intent_with_receipt():
    """The payment intent's event when it tells who paid and for what (a receipt email and the
    payment link in its metadata): its row is a group payment of its own, by amount."""
    return replace(
        pi_succeeded(1, amount=GROUP), email=PAYER, name="Pat Payer", event_keys=(("stripe_payment_link", PLINK),)
    )


# --- a seat given on both rows --------------------------------------------------------------------
def test_a_seat_given_on_both_rows_stays_with_the_kept_row_and_the_other_is_left_for_an_operator(event, admin_user):
    apply_payment(payment_intent_with_receipt())
    (pi_row,) = stripe_rows()
    operator_assigns(admin_user, FRAN, payment=pi_row)  # seat 2 of the payment intent's row
    apply_payment(session())
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    _, session_row = stripe_rows()
    book_with_seat_links(session_row)  # Sam takes seat 2 of the session's row, Alex seat 3
    sam, alex = FRIENDS[0][0], FRIENDS[1][0]
    sam_key = seat_payment_of(sam).manual_key

    kept = merge()

    assert kept.pk == pi_row.pk
    assert seat_payment_of(FRAN).manual_key == f"seat:{kept.pk}:2"
    assert seat_payment_of(alex).manual_key == f"seat:{kept.pk}:3"
    assert SeatReference.objects.get(payment=kept, seat=3).registration == reg_of(alex)
    assert not SeatReference.objects.filter(payment=kept, seat=2).exists()
    # Sam's seat 2 was given twice: it is left as it was, and his timeline says why.
    assert seat_payment_of(sam).manual_key == sam_key
    (row,) = AuditLog.objects.filter(
        action="payment.updated", object_type="Payment", object_id=str(seat_payment_of(sam).pk)
    )
    assert row.registration == reg_of(sam) and "also given to someone else" in row.after["because"]
    summary = {s["seat"]: s["email"] for s in Payment.objects.get(pk=kept.pk).seat_assignments}
    assert summary[2] == FRAN and summary[3] == alex

    apply_payment(refunded(1, GROUP))

    assert status_of(FRAN) == Status.REFUNDED
    assert status_of(alex) == Status.REFUNDED
    assert status_of(sam) == Status.COMPLETE  # an operator decides


def test_a_seat_given_on_the_merged_row_takes_the_kept_rows_unused_link_for_it(event, admin_user):
    """The session's row (kept) issued links nobody used yet; the payment intent's row gave seat 2
    by hand. After the merge seat 2 is the operator's, its link cannot give it again, seat 3's
    link still works, and both seats follow the group's refund."""
    apply_payment(session())
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    (session_row,) = stripe_rows()
    issue_seat_references(session_row, Actor.system("handoff"))
    links = {r.seat: r.reference for r in SeatReference.objects.filter(payment=session_row)}
    apply_payment(payment_intent_with_receipt())
    _, pi_row = stripe_rows()
    operator_assigns(admin_user, FRAN, payment=pi_row)

    kept = merge()

    assert kept.pk == session_row.pk
    assert seat_payment_of(FRAN).manual_key == f"seat:{kept.pk}:2"
    assert SeatReference.objects.get(reference=links[2]).registration == reg_of(FRAN)
    sam, alex = FRIENDS[0][0], FRIENDS[1][0]
    apply_booking(booked(203, sam, first="Sam", last="Guest", intake={"ref": links[3]}))
    apply_booking(booked(202, alex, first="Alex", last="Other", intake={"ref": links[2]}))
    assert seat_payment_of(sam).manual_key == f"seat:{kept.pk}:3"
    assert not seat_payment_exists(alex)
    assert status_of(alex) == Status.BOOKED_ONLY

    apply_payment(refunded(1, GROUP))

    assert status_of(FRAN) == Status.REFUNDED
    assert status_of(sam) == Status.REFUNDED


def seat_payment_exists(email) -> bool:
    return Payment.objects.filter(method=Payment.Method.GROUP_SEAT, registration__attendee__email=email).exists()


def test_a_group_payment_card_settled_before_the_merge_does_not_come_back_as_a_second_card(event):
    pay_as_two_rows()
    (item,) = ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT)
    book_with_seat_links(item.payment)
    item.refresh_from_db()
    assert item.state == ReviewItem.State.RESOLVED  # every seat booked with its own link

    kept = merge()

    cards = ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert [(c.key, c.state) for c in cards] == [(f"group:{kept.pk}", ReviewItem.State.RESOLVED)]
    assert status_of(PAYER) == Status.COMPLETE
