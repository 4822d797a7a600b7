"""YAML reads .inf (or a number too large for a float, like 1.0e+999) as infinity: in an events
file such a value is refused naming the entry and the field, like any other wrong value, never a
traceback."""

import pytest
from django.core.management import CommandError, call_command

from registrations.models import Event

pytestmark = pytest.mark.django_db

ENTRY = "events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', %s}]"


@pytest.mark.parametrize(
    "extra, field",
    [
        ("capacity: .inf", "capacity"),
        ("capacity: 1.0e+999", "capacity"),
        ("reminders: {quiet_hours: [.inf, 8]}", "quiet_hours"),
        ("reminders: {delay_hours: .inf}", "reminders.delay_hours"),
        ("reminders: {max_count: -.inf}", "reminders.max_count"),
    ],
)
def test_an_infinite_number_in_an_events_file_is_refused_naming_the_field(tmp_path, extra, field):
    path = tmp_path / "events.yaml"
    path.write_text(ENTRY % extra)

    with pytest.raises(CommandError) as refused:
        call_command("import_events", str(path))

    assert "event #1" in str(refused.value) and field in str(refused.value)
    assert not Event.objects.exists()
