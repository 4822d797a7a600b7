"""Someone who stopped reminder emails earlier but still gets reminder texts, and opens the
unsubscribe link again, must be able to stop the texts there too: the "already unsubscribed"
page was a dead end for them."""

from notifications.tokens import unsubscribe_token
from registrations.models import Attendee, Status


def test_an_attendee_already_unsubscribed_from_emails_can_stop_texts_from_the_same_page(client, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    Attendee.objects.filter(pk=reg.attendee_id).update(email_opt_out=True)
    path = f"/n/unsubscribe/{unsubscribe_token(reg.attendee_id)}/"

    page = client.get(path).content.decode()
    assert "already unsubscribed" in page
    assert "Stop reminder text messages" in page

    done = client.post(path, {"page": "1", "sms": "1"}, follow=True).content.decode()

    reg.attendee.refresh_from_db()
    assert reg.attendee.sms_opt_out
    assert "text messages" in done


def test_an_attendee_with_no_texts_to_stop_sees_no_text_message_button(client, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="")
    Attendee.objects.filter(pk=reg.attendee_id).update(email_opt_out=True)

    page = client.get(f"/n/unsubscribe/{unsubscribe_token(reg.attendee_id)}/").content.decode()

    assert "already unsubscribed" in page and "text messages" not in page
