"""A purge left a message that was still waiting to go out (queued, or waiting for a retry after
a failed attempt) to a purged attendee as it was: their address or number, their name in the text,
and the retry sweep could still send it to someone whose data had been removed. Such a message is
now not sent ("suppressed", saying why, like any message dropped before sending) and scrubbed like
the sent ones. One a worker is sending at that very moment is scrubbed but left to finish, so its
record says what happened; a waiting message to someone the purge leaves alone is untouched."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from notifications.delivery import deliver, due_for_retry
from notifications.models import NotificationLog
from tests.test_purge import world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def purge() -> str:
    out = StringIO()
    call_command("purge_personal_data", "--event", "spring-retreat", "--yes", stdout=out)
    return out.getvalue()


def waiting(attendee, registration=None, **kw) -> NotificationLog:
    values = {
        "channel": "email",
        "kind": "reminder_booking",
        "recipient": attendee.email,
        "subject": f"{attendee.name.split()[0]}, book your place",
        "body": f"Hi {attendee.name}",
        "html": f"<p>Hi {attendee.name}</p>",
        "status": "queued",
        "next_attempt_at": timezone.now(),
        "attendee": attendee,
        "registration": registration,
        **kw,
    }
    return NotificationLog.objects.create(**values)


def test_a_message_still_waiting_for_a_purged_attendee_is_not_sent_and_keeps_no_personal_data(world):  # noqa: F811
    river, reg = world["river"], world["river_reg"]
    queued = waiting(river, reg)
    retry = waiting(
        river,
        reg,
        channel="sms",
        recipient="+15551230001",
        subject="",
        html="",
        attempts=1,
        first_attempt_at=timezone.now() - timedelta(minutes=10),
        next_attempt_at=timezone.now() + timedelta(minutes=5),
        error="attempt 1: Twilio 503",
    )

    output = purge()

    for message, recipient in ((queued, f"anon-{river.pk}@invalid"), (retry, "[removed]")):
        message.refresh_from_db()
        assert message.status == NotificationLog.Status.SUPPRESSED
        assert message.error == "Not sent: the attendee's personal data was removed (purge)"
        assert message.recipient == recipient
        assert (message.body, message.html) == ("", "")
        assert "River" not in message.subject and "Stone" not in message.subject
        assert message.next_attempt_at is None
    assert "Messages not sent: 2" in output and "Messages scrubbed: 2" in output

    # The retry sweep and a worker holding its id do not send them later.
    assert due_for_retry(timezone.now() + timedelta(days=1)) == []
    for message in (queued, retry):
        assert deliver(message.pk, now=timezone.now() + timedelta(hours=1)).status == "suppressed"
    assert mail.outbox == []


def test_a_message_being_sent_during_the_purge_is_scrubbed_and_left_to_finish(world):  # noqa: F811
    river, reg = world["river"], world["river_reg"]
    in_flight = waiting(river, reg, attempts=1, locked_until=timezone.now() + timedelta(minutes=2))

    purge()

    in_flight.refresh_from_db()
    assert in_flight.status == NotificationLog.Status.QUEUED  # the worker records the outcome
    assert (in_flight.recipient, in_flight.body, in_flight.html) == (f"anon-{river.pk}@invalid", "", "")


def test_a_waiting_message_to_someone_the_purge_leaves_alone_still_goes(world):  # noqa: F811
    sky = world["sky"]  # also registered for an upcoming event: not purged
    message = waiting(sky)

    purge()

    message.refresh_from_db()
    assert (message.status, message.recipient, message.body) == ("queued", "sky@example.org", "Hi Sky Lake")
