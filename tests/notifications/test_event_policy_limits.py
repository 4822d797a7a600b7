"""An event's reminder policy is typed by a person: one absurd value on one event must never stop
the reminders of every other event."""

import pytest

from notifications.scan import select_due
from registrations.models import Status
from tests.factories import EventFactory

from .conftest import make_registration

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["reminder_delay_hours", "reminder_spacing_hours"])
def test_one_event_with_an_absurd_reminder_delay_does_not_stop_the_reminders_of_the_others(event, field):
    EventFactory(slug="typo", quiet_hours_start=0, quiet_hours_end=0, **{field: 99_999_999})
    waiting = make_registration(event, Status.PAID_ONLY, hours_ago=48)

    due, _ = select_due()

    assert [pk for pk, _, _ in due] == [waiting.pk]
