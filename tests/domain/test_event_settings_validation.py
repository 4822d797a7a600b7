"""An operator types an event's settings by hand in the admin: settings that cannot be right are
refused with a message on the field, and nothing is saved."""

import pytest

from registrations.models import Event

from .test_event_settings_rederive import change_event_in_admin

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"timezone": "America/Los_Angles"}, "timezone", "not a time zone"),
        ({"ends_at_0": "2020-01-01", "ends_at_1": "10:00:00"}, "ends_at", "before it starts"),
        ({"quiet_hours_start": "24"}, "quiet_hours_start", "0 to 23"),
        ({"quiet_hours_end": "99"}, "quiet_hours_end", "0 to 23"),
        ({"reminder_delay_hours": "0"}, "reminder_delay_hours", "At least 1 hour"),
        ({"reminder_delay_hours": "99999999"}, "reminder_delay_hours", "At most 8760 hours"),
        ({"reminder_spacing_hours": "0"}, "reminder_spacing_hours", "At least 1 hour"),
        ({"reminder_spacing_hours": "20000000"}, "reminder_spacing_hours", "At most 8760 hours"),
        ({"reminder_max_count": "500"}, "reminder_max_count", "At most 10 reminders"),
        ({"price": "0"}, "price", "more than 0"),
    ],
)
def test_the_event_admin_refuses_settings_that_cannot_be_right(admin_client, event, changes, field, message):
    before = Event.objects.values().get(pk=event.pk)

    response = change_event_in_admin(admin_client, event, **changes)

    form = response.context["adminform"].form
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    after = Event.objects.values().get(pk=event.pk)
    assert after == before


def test_a_donation_event_may_have_a_price_of_zero_and_reminders_may_be_switched_off(admin_client, event):
    response = change_event_in_admin(admin_client, event, kind="donation", price="0", reminder_max_count="0")
    assert not (response.context.get("errors")), response.context.get("errors")
    event.refresh_from_db()
    assert (event.kind, event.price, event.reminder_max_count) == ("donation", 0, 0)
