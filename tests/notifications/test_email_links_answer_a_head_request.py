"""Mail scanners and link checkers often send HEAD before (or instead of) GET. The links in our
emails (status page, unsubscribe) answer it like GET, with no body, instead of 405 (which some
scanners report as a broken link); a HEAD to the unsubscribe link unsubscribes nobody."""

from notifications.tokens import status_token, unsubscribe_token
from registrations.models import Attendee, Status


def test_the_status_link_answers_a_head_request(client, one_sided):
    reg = one_sided(Status.PAID_ONLY)

    response = client.head(f"/n/status/{status_token(reg.pk)}/")

    assert response.status_code == 200 and response.content == b""


def test_a_head_request_to_the_unsubscribe_link_answers_and_unsubscribes_nobody(client, one_sided):
    reg = one_sided(Status.PAID_ONLY)

    response = client.head(f"/n/unsubscribe/{unsubscribe_token(reg.attendee_id)}/")

    assert response.status_code == 200 and response.content == b""
    assert not Attendee.objects.get(pk=reg.attendee_id).email_opt_out
