"""An events file is typed by hand: every value the admin would refuse is refused with a message
naming the entry and the field (never a database traceback), and nothing is written."""

import pytest
from django.core.management import CommandError, call_command

from registrations.models import Event

pytestmark = pytest.mark.django_db

ENTRY = "events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', %s}]"


def run(tmp_path, body):
    from io import StringIO

    path = tmp_path / "events.yaml"
    path.write_text(body)
    out = StringIO()
    call_command("import_events", str(path), stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "extra, message",
    [
        ("reminders: {delay_hours: -5}", "reminders.delay_hours"),
        ("reminders: {delay_hours: abc}", "reminders.delay_hours"),
        ("reminders: {delay_hours: 0}", "reminders.delay_hours: At least 1 hour"),
        ("reminders: {delay_hours: 99999999}", "reminders.delay_hours: At most 8760 hours"),
        ("reminders: {spacing_hours: 0}", "reminders.spacing_hours: At least 1 hour"),
        ("reminders: {max_count: -1}", "reminders.max_count"),
        ("reminders: {enabled: maybe}", "reminders.enabled"),
        ("reminders: {delay: 12}", "unknown reminder setting(s) delay"),
        ("capacity: -3", "capacity"),
        ("price: 0", "price: A paid event's price must be more than 0"),
        ("name: " + "N" * 300, "name: Ensure this value has at most 200 characters"),
        ("location: " + "L" * 300, "location: Ensure this value has at most 200 characters"),
        ("currency: dollars", "currency"),
        ("stripe_payment_link_url: not a link", "stripe_payment_link_url"),
    ],
)
def test_a_wrong_value_in_an_events_file_is_refused_naming_the_field_and_nothing_is_written(tmp_path, extra, message):
    with pytest.raises(CommandError) as refused:
        run(tmp_path, ENTRY % extra)
    assert "event #1 (x)" in str(refused.value)
    assert message in str(refused.value)
    assert not Event.objects.exists()


def test_quoted_numbers_in_an_events_file_are_read_as_numbers_so_a_second_import_changes_nothing(tmp_path):
    body = ENTRY % "capacity: '40', reminders: {delay_hours: '12', max_count: '3'}"
    run(tmp_path, body)
    event = Event.objects.get()
    assert (event.capacity, event.reminder_delay_hours, event.reminder_max_count) == (40, 12, 3)
    assert "unchanged 1: x" in run(tmp_path, body)


def test_one_payment_link_under_two_events_of_the_same_file_is_refused_naming_both(tmp_path):
    body = """events:
  - {slug: a, name: A, starts_at: '2027-01-01T10:00:00+00:00', mappings: {stripe_payment_link: [plink_1]}}
  - {slug: b, name: B, starts_at: '2027-02-01T10:00:00+00:00', mappings: {stripe_payment_link: [plink_1]}}
"""
    with pytest.raises(CommandError, match=r"event #2 \(b\): stripe_payment_link plink_1 is also listed under 'a'"):
        run(tmp_path, body)
    assert not Event.objects.exists()
