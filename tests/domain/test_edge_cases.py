"""Every row of DESIGN.md's edge-case table, as an operator would notice it."""

import pytest

from registrations.audit import Actor
from registrations.engine import recompute
from registrations.models import (
    Attendee,
    AttendeeAlias,
    AuditLog,
    Booking,
    Event,
    EventMapping,
    Payment,
    Registration,
    ReviewItem,
    Source,
    Status,
)
from registrations.resolutions import ResolutionError, accept_suggested_match, acknowledge, dismiss
from registrations.services import add_mapping, apply_booking, apply_payment, enter_walk_in
from registrations.signals import PaymentSignal
from tests.factories import EventFactory

from .builders import at, booked, disputed, paid, pi_succeeded, refunded

pytestmark = pytest.mark.django_db


def reg_of(email, event) -> Registration:
    return Registration.objects.get(attendee__email=email, event=event)


def open_items(kind=None):
    qs = ReviewItem.objects.filter(state=ReviewItem.State.OPEN)
    return qs.filter(kind=kind) if kind else qs


# --- the happy path ---------------------------------------------------------------------------
def test_payment_then_booking_with_same_email_is_complete(event):
    apply_payment(paid(1))
    assert reg_of("river@example.org", event).status == Status.PAID_ONLY
    apply_booking(booked(1))
    assert reg_of("river@example.org", event).status == Status.COMPLETE
    assert Registration.objects.count() == 1


def test_booking_alone_is_booked_only_but_complete_for_a_donation_event(event):
    apply_booking(booked(1))
    assert reg_of("river@example.org", event).status == Status.BOOKED_ONLY
    Event.objects.filter(pk=event.pk).update(kind=Event.Kind.DONATION)
    apply_booking(booked(2, "other@example.org"))
    assert reg_of("other@example.org", event).status == Status.COMPLETE


def test_email_matching_ignores_case_and_whitespace(event):
    apply_payment(paid(1, "  River@Example.ORG "))
    apply_booking(booked(1, "river@example.org"))
    assert Registration.objects.get().status == Status.COMPLETE


def test_acuity_comma_separated_emails_use_the_first_and_match_on_the_others(event):
    apply_payment(paid(1, "second@example.org"))
    apply_booking(booked(1, "first@example.org, second@example.org"))
    reg = reg_of("second@example.org", event)
    assert reg.status == Status.COMPLETE
    assert not Attendee.objects.filter(email="first@example.org").exists()


def test_unpaid_bank_debit_is_pending_until_the_money_arrives(event):
    apply_payment(paid(1, status="unpaid"))
    assert Registration.objects.get().status == Status.PENDING
    apply_payment(paid(1, status="paid", hours=48))
    assert Registration.objects.get().status == Status.PAID_ONLY
    assert Payment.objects.count() == 1


def test_abandoned_checkout_is_recorded_but_registers_nobody(event):
    apply_payment(paid(1, status="expired"))
    assert Payment.objects.get().state == Payment.State.EXPIRED
    assert Registration.objects.count() == 0


# --- same person, different emails --------------------------------------------------------------
def test_same_phone_different_emails_is_suggested_not_merged(event):
    apply_payment(paid(1, "river.work@example.org", phone="+14155550123"))
    apply_booking(booked(1, "river.home@example.org", phone="(415) 555-0123", first="Riv", last="S"))
    item = open_items(ReviewItem.Kind.SUGGESTED_MATCH).get()
    assert "same phone number" in item.explanation
    assert Registration.objects.count() == 2
    assert set(Registration.objects.values_list("status", flat=True)) == {Status.NEEDS_REVIEW}


def test_similar_names_different_emails_are_suggested(event):
    apply_payment(paid(1, "a@example.org", name="River Stone"))
    apply_booking(booked(1, "b@example.org", first="Rivers", last="Stone"))
    item = open_items(ReviewItem.Kind.SUGGESTED_MATCH).get()
    assert "very similar names (“Rivers Stone” and “River Stone”)" in item.explanation


def test_the_same_name_under_two_emails_is_suggested_as_the_same_name_not_a_very_similar_one(event):
    """The card read "very similar names (“Dune Haas” and “Dune Haas”)": the operator is told the
    names are the same, and both spellings only when they differ (in case or accents)."""
    apply_payment(paid(1, "a@example.org", name="Dune Haas"))
    apply_booking(booked(1, "b@example.org", first="Dune", last="Haas"))
    item = open_items(ReviewItem.Kind.SUGGESTED_MATCH).get()
    assert "the same name (“Dune Haas”)" in item.explanation
    assert "very similar" not in item.explanation
    apply_payment(paid(2, "c@example.org", name="River Stone"))
    apply_booking(booked(2, "d@example.org", first="river", last="stone"))
    item = open_items(ReviewItem.Kind.SUGGESTED_MATCH).exclude(registration__attendee__name="Dune Haas").get()
    assert "the same name (“River Stone” and “river stone”)" in item.explanation or (
        "the same name (“river stone” and “River Stone”)" in item.explanation
    )


def test_accepting_a_suggestion_merges_and_learns_the_alias(event, admin_user):
    apply_payment(paid(1, "river.work@example.org", phone="+14155550123"))
    apply_booking(booked(1, "river.home@example.org", phone="+14155550123"))
    item = open_items(ReviewItem.Kind.SUGGESTED_MATCH).get()
    reg = accept_suggested_match(item.pk, Actor.operator(admin_user))
    assert reg.status == Status.COMPLETE
    assert Registration.objects.count() == 1
    assert AttendeeAlias.objects.filter(email="river.home@example.org", attendee=reg.attendee).exists()
    assert AuditLog.objects.filter(action="registration.merged", actor_user=admin_user).exists()
    # Every later signal with the alias lands on the same person, for any event.
    other = EventFactory()
    EventMapping.objects.create(kind="acuity_appointment_type", value="999", event=other)
    apply_booking(booked(2, "river.home@example.org", atype="999"))
    assert Registration.objects.get(event=other).attendee == reg.attendee


def test_dismissed_suggestion_is_never_suggested_again(event, admin_user):
    apply_payment(paid(1, "a@example.org", phone="+14155550123"))
    apply_booking(booked(1, "b@example.org", phone="+14155550123"))
    item = open_items(ReviewItem.Kind.SUGGESTED_MATCH).get()
    dismiss(item.pk, Actor.operator(admin_user), note="two sisters sharing a phone")
    apply_booking(booked(1, "b@example.org", phone="+14155550123", hours=5))  # a redelivery
    apply_payment(paid(1, "a@example.org", phone="+14155550123"))
    assert not open_items().exists()
    assert set(Registration.objects.values_list("status", flat=True)) == {Status.PAID_ONLY, Status.BOOKED_ONLY}


def test_resolving_twice_is_refused_with_a_clear_error(event, admin_user):
    apply_payment(paid(1, "a@example.org", phone="+14155550123"))
    apply_booking(booked(1, "b@example.org", phone="+14155550123"))
    item = open_items().get()
    dismiss(item.pk, Actor.operator(admin_user))
    with pytest.raises(ResolutionError, match="already resolved"):
        accept_suggested_match(item.pk, Actor.operator(admin_user))


def test_suggestion_closes_itself_when_one_side_completes(event):
    apply_payment(paid(1, "a@example.org", phone="+14155550123"))
    apply_booking(booked(1, "b@example.org", phone="+14155550123"))
    assert open_items().count() == 1
    apply_booking(booked(2, "a@example.org"))  # a books with their own email after all
    assert not open_items().exists()
    assert reg_of("a@example.org", event).status == Status.COMPLETE
    assert reg_of("b@example.org", event).status == Status.BOOKED_ONLY


# --- reference beats email -----------------------------------------------------------------------
def test_reference_in_booking_intake_beats_a_different_email(event):
    apply_payment(paid(1, "payer@example.org"))
    ref = reg_of("payer@example.org", event).reference
    apply_booking(booked(1, "booker@example.org", intake={"Registration reference": ref}))
    reg = reg_of("payer@example.org", event)
    assert reg.status == Status.COMPLETE
    assert AttendeeAlias.objects.filter(email="booker@example.org", attendee=reg.attendee).exists()
    assert not open_items().exists()
    assert AuditLog.objects.filter(action="attendee.alias_learned").exists()


def test_client_reference_id_on_a_payment_beats_a_different_email(event):
    apply_booking(booked(1, "booker@example.org"))
    ref = reg_of("booker@example.org", event).reference
    apply_payment(paid(1, "card-holder@example.org", ref=ref))
    assert Registration.objects.get().status == Status.COMPLETE


def test_a_forged_or_foreign_reference_falls_back_to_email(event):
    other_event_reg = Registration.objects.create(
        attendee=Attendee.objects.create(email="x@example.org"), event=EventFactory()
    )
    apply_payment(paid(1, "payer@example.org", ref=other_event_reg.reference))
    apply_payment(paid(2, "second@example.org", ref="RNOTAREALREFERENCE"))
    assert reg_of("payer@example.org", event).payments.count() == 1
    assert reg_of("second@example.org", event).payments.count() == 1


# --- group payment ---------------------------------------------------------------------------------
def test_group_payment_by_quantity_opens_a_review_item(event):
    apply_payment(paid(1, quantity=3, amount=36000))
    item = open_items(ReviewItem.Kind.GROUP_PAYMENT).get()
    assert item.data["seats"] == 3
    assert "3 seats" in item.explanation
    assert Registration.objects.get().status == Status.NEEDS_REVIEW


def test_group_payment_by_amount_multiple_of_the_price(event):
    apply_payment(paid(1, quantity=1, amount=24000))
    assert open_items(ReviewItem.Kind.GROUP_PAYMENT).get().data["seats"] == 2


def test_a_donation_that_happens_to_be_a_multiple_is_not_a_group(event):
    Event.objects.filter(pk=event.pk).update(kind=Event.Kind.DONATION)
    apply_payment(paid(1, quantity=1, amount=24000))
    assert not open_items().exists()


def test_a_payment_in_another_currency_is_not_read_as_seats_at_the_events_price(event):
    """The event costs 120.00 USD; someone paid 240.00 EUR through a link in euros (one seat at a
    price in another currency): that is not "2 seats"."""
    import dataclasses

    apply_payment(dataclasses.replace(paid(1, quantity=1, amount=24000), currency="eur"))
    assert not open_items(ReviewItem.Kind.GROUP_PAYMENT).exists()
    assert Registration.objects.get().status == Status.PAID_ONLY


# --- duplicate payment ----------------------------------------------------------------------------
def test_second_payment_within_24h_is_a_duplicate(event):
    apply_payment(paid(1, hours=0))
    apply_payment(paid(2, hours=3))
    item = open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).get()
    assert item.payment.checkout_session_id == "cs_2"
    assert "paid twice" in item.explanation


def test_a_duplicate_refunded_in_the_stripe_dashboard_closes_its_card_by_itself(event):
    """The operator refunds the second payment in Stripe instead of from the queue: the card
    closes once Stripe reports the full refund, and the registration is no longer in review."""
    apply_payment(paid(1, hours=0))
    apply_payment(paid(2, hours=3))
    item = open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).get()
    assert Registration.objects.get().status == Status.NEEDS_REVIEW

    apply_payment(refunded(2, 12000, hours=4))

    item.refresh_from_db()
    assert item.state == ReviewItem.State.RESOLVED and item.resolution.startswith("auto:")
    assert Registration.objects.get().status == Status.PAID_ONLY


def test_paying_three_times_and_one_refunded_in_the_dashboard_still_shows_the_other_two_as_a_duplicate(event):
    """River paid three times within a few hours; the middle payment is refunded in full in the
    Stripe Dashboard. The first and the third are still both paid: that is still a duplicate for
    an operator, not a settled registration."""
    apply_payment(paid(1, hours=0))
    apply_payment(paid(2, hours=3))
    apply_payment(paid(3, hours=6))
    assert open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).count() == 2

    apply_payment(refunded(2, 12000, hours=7))

    item = open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).get()
    first, third = Payment.objects.get(payment_intent_id="pi_1"), Payment.objects.get(payment_intent_id="pi_3")
    assert (item.data["first_payment"], item.payment_id) == (first.pk, third.pk)
    assert Registration.objects.get().status == Status.NEEDS_REVIEW
    audits = AuditLog.objects.filter(action__startswith="review.").count()
    apply_payment(refunded(2, 12000, hours=7))  # the same refund delivered again changes nothing
    assert AuditLog.objects.filter(action__startswith="review.").count() == audits


def test_two_cash_walk_ins_left_when_the_card_payment_between_them_is_refunded_are_not_a_duplicate(event):
    """Cash at the door, then a card payment, then cash again: two cards (each pair has the card
    payment). Once the card payment is refunded in full, the two cash payments are not a
    duplicate by the rule (neither went through Stripe): no card stays open."""
    system = Actor.system("test")
    enter_walk_in(event=event, email="river@example.org", name="River Stone", method="cash", amount=12000, actor=system)
    Payment.objects.filter(method=Payment.Method.CASH).update(occurred_at=at(0))
    apply_payment(paid(1, hours=2))
    enter_walk_in(event=event, email="river@example.org", name="River Stone", method="cash", amount=12000, actor=system)
    Payment.objects.filter(method=Payment.Method.CASH, occurred_at__gt=at(3)).update(occurred_at=at(4))
    recompute(Registration.objects.get(), system)
    assert open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).count() == 2

    apply_payment(refunded(1, 12000, hours=5))

    assert open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).count() == 0


def test_a_partly_refunded_duplicate_stays_for_the_operator(event):
    apply_payment(paid(1, hours=0))
    apply_payment(paid(2, hours=3))
    apply_payment(refunded(2, 5000, hours=4))
    assert open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).count() == 1


def test_duplicate_detection_does_not_depend_on_arrival_order(event):
    apply_payment(paid(2, hours=3))
    apply_payment(paid(1, hours=0))
    assert open_items(ReviewItem.Kind.DUPLICATE_PAYMENT).get().payment.checkout_session_id == "cs_2"


def test_payments_more_than_24h_apart_are_not_duplicates(event):
    apply_payment(paid(1, hours=0))
    apply_payment(paid(2, hours=30))
    assert not open_items().exists()


def test_keeping_a_duplicate_clears_the_review(event, admin_user):
    apply_payment(paid(1, hours=0))
    apply_payment(paid(2, hours=3))
    apply_booking(booked(1))
    item = open_items().get()
    acknowledge(item.pk, Actor.operator(admin_user), note="second seat for a friend", resolution="kept")
    assert Registration.objects.get().status == Status.COMPLETE


# --- walk-in ------------------------------------------------------------------------------------------
def test_walk_in_is_complete_and_marked_walk_in(event, admin_user):
    reg = enter_walk_in(
        event=event,
        email="door@example.org",
        name="Door Person",
        method="cash",
        amount=12000,
        actor=Actor.operator(admin_user),
    )
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE
    assert reg.source == Source.WALK_IN
    payment = reg.payments.get()
    assert (payment.method, payment.source, payment.amount) == ("cash", Source.WALK_IN, 12000)
    assert AuditLog.objects.filter(action="registration.walk_in", actor_user=admin_user).exists()


def test_walk_in_rejects_bad_input(event, admin_user):
    with pytest.raises(ValueError, match="email"):
        enter_walk_in(
            event=event, email="not-an-email", name="X", method="cash", amount=1, actor=Actor.operator(admin_user)
        )
    with pytest.raises(ValueError, match="method"):
        enter_walk_in(
            event=event, email="a@example.org", name="X", method="bitcoin", amount=1, actor=Actor.operator(admin_user)
        )


# --- refunds ---------------------------------------------------------------------------------------------
def test_full_refund_makes_the_registration_refunded_and_keeps_the_record(event):
    apply_payment(paid(1))
    apply_booking(booked(1))
    apply_payment(pi_succeeded(1))  # learns the charge id
    apply_payment(refunded(1, 12000))
    reg = Registration.objects.get()
    assert reg.status == Status.REFUNDED
    payment = reg.payments.get()
    assert (payment.amount, payment.amount_refunded) == (12000, 12000)


def test_partial_refund_keeps_the_status_and_records_the_amount(event):
    apply_payment(paid(1))
    apply_booking(booked(1))
    apply_payment(refunded(1, 4000))
    reg = Registration.objects.get()
    assert reg.status == Status.COMPLETE
    assert reg.payments.get().amount_refunded == 4000


def test_cumulative_refund_totals_never_go_down_when_redelivered_out_of_order(event):
    apply_payment(paid(1))
    apply_payment(refunded(1, 8000))
    apply_payment(refunded(1, 4000))  # the older partial refund event arrives late
    assert Payment.objects.get().amount_refunded == 8000


def test_refund_before_payment_is_kept_and_applied_when_the_payment_arrives(event):
    apply_payment(refunded(1, 12000))
    assert Registration.objects.count() == 0
    apply_payment(paid(1))
    assert Registration.objects.get().status == Status.REFUNDED


# --- dispute ---------------------------------------------------------------------------------------------
def test_dispute_opens_a_review_item(event):
    apply_payment(paid(1))
    apply_booking(booked(1))
    apply_payment(disputed(1))
    item = open_items(ReviewItem.Kind.DISPUTE).get()
    assert "disputed" in item.explanation
    assert Registration.objects.get().status == Status.NEEDS_REVIEW
    assert Payment.objects.get().disputed


def test_dispute_before_payment_is_kept_and_surfaces_when_the_payment_arrives(event):
    apply_payment(disputed(1))
    apply_payment(paid(1))
    assert open_items(ReviewItem.Kind.DISPUTE).count() == 1


def test_acknowledging_a_dispute_returns_the_registration_to_its_status(event, admin_user):
    apply_payment(paid(1))
    apply_booking(booked(1))
    apply_payment(disputed(1))
    acknowledge(open_items().get().pk, Actor.operator(admin_user), note="evidence submitted")
    assert Registration.objects.get().status == Status.COMPLETE


# --- cancellation after paying -----------------------------------------------------------------------------
def test_cancel_after_paying_opens_paid_but_cancelled(event):
    apply_payment(paid(1))
    apply_booking(booked(1))
    apply_booking(booked(1, status="cancelled", hours=5))
    item = open_items(ReviewItem.Kind.PAID_CANCELLED).get()
    assert "cancelled" in item.explanation
    assert Registration.objects.get().status == Status.NEEDS_REVIEW


def test_cancel_without_payment_is_cancelled(event):
    apply_booking(booked(1))
    apply_booking(booked(1, status="cancelled", hours=5))
    assert Registration.objects.get().status == Status.CANCELLED
    assert not open_items().exists()


def test_cancel_before_the_booking_arrives_still_ends_cancelled(event):
    apply_booking(booked(1, status="cancelled", hours=5))
    apply_booking(booked(1, hours=1))
    assert Booking.objects.get().cancelled
    assert Registration.objects.get().status == Status.CANCELLED


def test_refund_after_paid_cancelled_closes_the_item_and_ends_refunded(event):
    apply_payment(paid(1))
    apply_booking(booked(1))
    apply_booking(booked(1, status="cancelled", hours=5))
    apply_payment(refunded(1, 12000, hours=6))
    assert not open_items().exists()
    assert Registration.objects.get().status == Status.REFUNDED


# --- reschedule ------------------------------------------------------------------------------------------------
def test_reschedule_updates_the_time_and_keeps_the_status(event):
    apply_payment(paid(1))
    apply_booking(booked(1, start_day=10, hours=1))
    apply_booking(booked(1, status="rescheduled", start_day=12, hours=2))
    booking = Booking.objects.get()
    assert booking.starts_at.day == 12
    assert booking.times_rescheduled == 1
    assert Registration.objects.get().status == Status.COMPLETE
    assert AuditLog.objects.filter(action="booking.rescheduled").exists()


def test_an_older_observation_never_overwrites_a_newer_one(event):
    apply_booking(booked(1, status="rescheduled", start_day=12, hours=2))
    apply_booking(booked(1, start_day=10, hours=1))  # delivered late
    assert Booking.objects.get().starts_at.day == 12


# --- unknown payment link / appointment type -------------------------------------------------------------------
def test_unknown_payment_link_is_kept_and_listed_as_unmatched(event):
    apply_payment(paid(1, plink="plink_unknown"))
    item = open_items(ReviewItem.Kind.UNMATCHED_EVENT).get()
    assert "plink_unknown" in item.explanation
    assert Payment.objects.get().event is None
    assert Registration.objects.count() == 0


def test_mapping_an_unknown_link_later_replays_its_stored_signals(event, admin_user):
    apply_payment(paid(1, "a@example.org", plink="plink_new"))
    apply_payment(paid(2, "b@example.org", plink="plink_new"))
    apply_booking(booked(7, "a@example.org", atype="777"))
    new_event = EventFactory(slug="autumn")
    _, replayed = add_mapping("stripe_payment_link", "plink_new", new_event, Actor.operator(admin_user))
    assert replayed.done == 2
    assert Registration.objects.filter(event=new_event).count() == 2
    assert open_items(ReviewItem.Kind.UNMATCHED_EVENT).count() == 1  # the appointment type is still unknown
    add_mapping("acuity_appointment_type", "777", new_event, Actor.operator(admin_user))
    assert reg_of("a@example.org", new_event).status == Status.COMPLETE
    assert not open_items().exists()


def test_a_mapping_added_in_the_admin_also_replays(event, django_capture_on_commit_callbacks):
    apply_payment(paid(1, plink="plink_admin"))
    new_event = EventFactory()
    with django_capture_on_commit_callbacks(execute=True):
        EventMapping.objects.create(kind="stripe_payment_link", value="plink_admin", event=new_event)
    assert Registration.objects.get().event == new_event


def test_marking_a_link_as_not_ours_closes_the_item_without_registering(event, admin_user):
    apply_payment(paid(1, plink="plink_other_org"))
    add_mapping("stripe_payment_link", "plink_other_org", None, Actor.operator(admin_user), ignored=True)
    assert not open_items().exists()
    assert Registration.objects.count() == 0
    apply_payment(paid(2, plink="plink_other_org"))
    assert not open_items().exists()


# --- webhook missed: reconciliation uses the same path ------------------------------------------------------------
def test_a_signal_found_by_reconciliation_is_applied_exactly_like_a_webhook(event):
    result = apply_payment(paid(1), Actor.system("reconcile:1"), source=Source.RECONCILIATION)
    assert result.created
    assert Registration.objects.get().source == Source.RECONCILIATION
    again = apply_payment(paid(1), Actor.system("webhook:evt_late"))
    assert again.noop


# --- replay / duplicate delivery ------------------------------------------------------------------------------------
def test_redelivery_changes_nothing_after_the_first(event):
    apply_payment(paid(1))
    apply_booking(booked(1))
    audit_count = AuditLog.objects.count()
    for _ in range(3):
        assert apply_payment(paid(1)).noop
        assert apply_booking(booked(1)).noop
    assert AuditLog.objects.count() == audit_count
    assert (Payment.objects.count(), Booking.objects.count(), Registration.objects.count()) == (1, 1, 1)


def test_only_suggestions_can_be_dismissed(event, admin_user):
    apply_payment(paid(1))
    apply_payment(disputed(1))
    item = open_items(ReviewItem.Kind.DISPUTE).get()
    with pytest.raises(ResolutionError, match="not suggested_match"):
        dismiss(item.pk, Actor.operator(admin_user))
    assert open_items(ReviewItem.Kind.DISPUTE).exists()


def test_a_refund_found_by_reconciliation_keeps_its_source(event):
    apply_payment(refunded(1, 12000), Actor.system("reconcile:9"), source=Source.RECONCILIATION)
    apply_payment(paid(1), Actor.system("reconcile:9"), source=Source.RECONCILIATION)
    assert Registration.objects.get().source == Source.RECONCILIATION


def test_merging_a_seat_holder_keeps_their_claimed_seat(event, admin_user):
    from registrations.models import SeatReference
    from registrations.seats import issue_seat_references

    apply_payment(paid(1, "payer@example.org", quantity=2, amount=24000))
    (seat,) = issue_seat_references(Payment.objects.get(), Actor.system("test"))
    apply_payment(paid(2, "sam.work@example.org", phone="+14155550111", name="Sam Seat"))
    apply_booking(
        booked(
            2, "sam.home@example.org", phone="+14155550111", first="Sam", last="Seat", intake={"ref": seat.reference}
        )
    )
    seat.refresh_from_db()
    booked_reg = seat.registration
    assert booked_reg is not None
    from registrations.resolutions import merge_registrations

    work = reg_of("sam.work@example.org", event)
    keep = merge_registrations(work, booked_reg, Actor.operator(admin_user), reason="same person")
    assert SeatReference.objects.get(pk=seat.pk).registration == keep  # the seat stays claimed


def test_a_refund_that_fails_after_charge_refunded_no_longer_counts(event):
    from dataclasses import replace

    apply_payment(paid(1))
    apply_booking(booked(1))
    refund = PaymentSignal(
        status="refunded",
        refund_id="re_1",
        refund_status="pending",
        charge_id="ch_1",
        payment_intent_id="pi_1",
        amount_refunded=12000,
        raw_ref="evt_re_created",
    )
    apply_payment(refund)
    apply_payment(refunded(1, 12000))  # charge.refunded counted it
    assert Registration.objects.get().status == Status.REFUNDED
    apply_payment(replace(refund, refund_status="failed", raw_ref="evt_re_failed"))
    assert Payment.objects.get().amount_refunded == 0
    # Paid and booked again, with a "Refund failed" card for the operator (the money meant to go
    # back did not): the registration needs review until it is dealt with.
    assert Registration.objects.get().status == Status.NEEDS_REVIEW
    (card,) = ReviewItem.objects.filter(kind=ReviewItem.Kind.REFUND_FAILED, state=ReviewItem.State.OPEN)
    assert card.key == "refund_failed:re_1"
