"""Suggested matches ("same person, different emails?") are still found when reconciliation
applies thousands of records: the counterpart search only looks at registrations one-sided the
other way, read from the same facts as before (a fully refunded payment is not a live payment)."""

from registrations.models import ReviewItem

from .conftest import day, run_command


def _suggestions():
    return list(ReviewItem.objects.filter(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN))


def test_a_payer_and_a_booker_with_the_same_name_are_suggested_as_one_person(event, providers):
    stripe, acuity = providers
    stripe.add_session(email="river@work.example.org", name="River Stone")
    acuity.add_appointment(email="river@home.example.org", first_name="River", last_name="Stone", starts_at=day(20))
    stripe.add_session(email="other@example.org", name="Sky Walker")  # paid only, nobody similar

    run_command()

    [item] = _suggestions()
    assert item.registration.attendee.email == "river@work.example.org"
    assert item.counterpart.attendee.email == "river@home.example.org"


def test_two_bookers_with_the_same_name_are_not_suggested(event, providers):
    _, acuity = providers
    acuity.add_appointment(email="a@example.org", first_name="River", last_name="Stone", starts_at=day(20))
    acuity.add_appointment(email="b@example.org", first_name="River", last_name="Stone", starts_at=day(20))

    run_command()

    assert _suggestions() == []


def test_a_fully_refunded_payer_is_not_a_counterpart_but_a_partly_refunded_one_is(event, providers):
    stripe, acuity = providers
    full = stripe.add_session(email="full@example.org", name="River Stone")
    stripe.refund(full)
    part = stripe.add_session(email="part@example.org", name="Rain Meadow")
    stripe.refund(part, amount=1000)
    acuity.add_appointment(email="rs@example.org", first_name="River", last_name="Stone", starts_at=day(20))
    acuity.add_appointment(email="rm@example.org", first_name="Rain", last_name="Meadow", starts_at=day(20))

    run_command()

    [item] = _suggestions()
    assert {item.registration.attendee.email, item.counterpart.attendee.email} == {"part@example.org", "rm@example.org"}
