"""A reminder went to an address that an operator later merged into another registration (same
person). The "See where you stand" link in that email names the merged-away registration; it
shows the merged one instead of "this link doesn't work any more" (as the unsubscribe link in the
same email already does)."""

from notifications.tokens import status_token
from registrations.audit import Actor
from registrations.models import Payment, Status
from registrations.resolutions import merge_registrations


def test_a_status_link_from_before_a_merge_shows_the_merged_registration(client, one_sided):
    booker = one_sided(Status.BOOKED_ONLY, email="river.old@example.org", name="River Stone")
    booker.bookings.create(event=booker.event, acuity_appointment_id="1", email=booker.attendee.email)
    old_link = f"/n/status/{status_token(booker.pk)}/"  # in the reminder already sent
    payer = one_sided(Status.PAID_ONLY, email="river.stone@example.org", name="River Stone")
    Payment.objects.create(
        registration=payer, event=payer.event, state=Payment.State.PAID, amount=12000, manual_key="m1"
    )

    merge_registrations(payer, booker, Actor.system("test"), reason="same person")
    payer.refresh_from_db()
    assert payer.status == Status.COMPLETE

    response = client.get(old_link)
    assert response.status_code == 200
    assert "You're all set" in response.content.decode()


def test_a_status_link_still_works_after_the_merged_registration_was_merged_again(client, one_sided):
    first = one_sided(Status.BOOKED_ONLY, email="a@example.org")
    old_link = f"/n/status/{status_token(first.pk)}/"
    second = one_sided(Status.PAID_ONLY, email="b@example.org")
    third = one_sided(Status.PAID_ONLY, email="c@example.org")
    merge_registrations(second, first, Actor.system("test"), reason="same person")
    merge_registrations(third, second, Actor.system("test"), reason="same person")

    assert client.get(old_link).status_code == 200


def test_reminders_sent_before_a_merge_stay_in_the_kept_registrations_history(one_sided):
    """The merged-away registration and attendee are deleted; the reminders they were sent stay in
    the person's message history (the admin's Messages list, the registration's timeline) instead
    of losing both links."""
    from notifications.models import NotificationLog

    booker = one_sided(Status.BOOKED_ONLY, email="river.old@example.org", name="River Stone")
    sent = NotificationLog.objects.create(
        channel="email",
        kind="reminder_booking",
        recipient="river.old@example.org",
        subject="River, pay for your place",
        body="Hi River",
        status="delivered",
        attendee=booker.attendee,
        registration=booker,
    )
    payer = one_sided(Status.PAID_ONLY, email="river.stone@example.org", name="River Stone")

    merge_registrations(payer, booker, Actor.system("test"), reason="same person")

    sent.refresh_from_db()
    assert sent.registration_id == payer.pk
    assert sent.attendee_id == payer.attendee_id
    assert list(payer.notifications.all()) == [sent]
