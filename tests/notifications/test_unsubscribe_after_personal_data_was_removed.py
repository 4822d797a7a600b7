"""Unsubscribe links never expire, so one in an old email can be opened after the attendee's
personal data was removed (purge after the event): the page must not show the placeholder address
left in its place ("a•••••@invalid")."""

from django.utils import timezone

from notifications.tokens import unsubscribe_token
from registrations.models import Attendee, Status
from registrations.privacy import anonymous_email


def test_an_unsubscribe_link_opened_after_the_details_were_removed_shows_no_made_up_address(client, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    attendee_id = reg.attendee_id
    Attendee.objects.filter(pk=attendee_id).update(
        email=anonymous_email(attendee_id), name="", phone="", anonymised_at=timezone.now()
    )
    path = f"/n/unsubscribe/{unsubscribe_token(attendee_id)}/"

    asked = client.get(path).content.decode()
    done = client.post(path, {"page": "1"}, follow=True).content.decode()

    for page in (asked, done):
        assert "@invalid" not in page and "•" not in page
    assert "Unsubscribe" in asked
    assert "unsubscribed" in done
