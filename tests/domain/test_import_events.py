"""Setting events up from a file: validated as a whole, idempotent, replays waiting signals."""

import json

import pytest
from django.core.management import CommandError, call_command

from registrations.models import AuditLog, Event, EventMapping, Registration, ReviewItem, Status
from registrations.services import apply_payment

from .builders import paid

pytestmark = pytest.mark.django_db

GOOD = """
events:
  - slug: spring-retreat
    name: Spring Retreat
    starts_at: 2027-04-05T10:00:00-07:00
    ends_at: 2027-04-05T16:00:00-07:00
    timezone: America/Los_Angeles
    kind: paid
    price: 120.00
    capacity: 40
    reminders: {delay_hours: 12, max_count: 3, quiet_hours: [22, 7]}
    mappings:
      stripe_payment_link: [plink_spring]
      acuity_appointment_type: [4440001]
"""


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text(GOOD)
    return path


def run(path, *args):
    from io import StringIO

    out = StringIO()
    call_command("import_events", str(path), *args, stdout=out)
    return out.getvalue()


def test_import_creates_events_with_mappings_and_policy(good_file):
    out = run(good_file)
    assert "created 1: spring-retreat" in out
    event = Event.objects.get(slug="spring-retreat")
    assert (event.price, event.capacity, event.reminder_delay_hours, event.reminder_max_count) == (12000, 40, 12, 3)
    assert (event.quiet_hours_start, event.quiet_hours_end) == (22, 7)
    assert set(EventMapping.objects.values_list("kind", "value")) == {
        ("stripe_payment_link", "plink_spring"),
        ("acuity_appointment_type", "4440001"),
    }
    assert AuditLog.objects.filter(action="event.created").count() == 1


def test_importing_the_same_file_twice_changes_nothing(good_file):
    run(good_file)
    audit_rows = AuditLog.objects.count()
    out = run(good_file)
    assert "unchanged 1: spring-retreat" in out
    assert "mappings added 0" in out
    assert AuditLog.objects.count() == audit_rows


def test_json_works_too(tmp_path):
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"events": [{"slug": "x", "name": "X", "starts_at": "2027-01-01T10:00:00+00:00"}]}))
    run(path)
    assert Event.objects.filter(slug="x").exists()


def test_a_mapping_for_waiting_signals_replays_them(good_file):
    apply_payment(paid(1, plink="plink_spring"))
    assert ReviewItem.objects.filter(kind="unmatched_event", state="open").exists()
    out = run(good_file)
    assert "stored signals replayed 1" in out
    assert Registration.objects.get().status == Status.PAID_ONLY
    assert not ReviewItem.objects.filter(state="open").exists()


@pytest.mark.parametrize(
    "body, message",
    [
        ("events: []", "expected a list of events"),
        ("events: [{slug: x, name: X}]", "'starts_at' is required"),
        ("events: [{slug: x, name: X, starts_at: 2027-01-01T10:00:00}]", "needs a UTC offset"),
        ("events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', price: abc}]", "is not a number"),
        ("events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', kind: free}]", "kind must be one of"),
        (
            "events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', timezone: Mars/Base}]",
            "unknown time zone",
        ),
        (
            "events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', mappings: {zoom: [1]}}]",
            "mapping kind 'zoom'",
        ),
        ("events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', colour: red}]", "unknown field"),
        ("events: [{: : :", "not valid YAML"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message_and_nothing_written(tmp_path, body, message):
    path = tmp_path / "events.yaml"
    path.write_text(body)
    with pytest.raises(CommandError, match=message):
        run(path)
    assert not Event.objects.exists()


def test_one_bad_entry_writes_nothing_at_all(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text(GOOD + "  - slug: broken\n    name: Broken\n")
    with pytest.raises(CommandError, match="starts_at"):
        run(path)
    assert not Event.objects.exists()


def test_demo_seed_produces_every_status_and_every_review_kind():
    call_command("seed_demo", stdout=__import__("io").StringIO())
    statuses = set(Registration.objects.values_list("status", flat=True))
    assert statuses == set(Status.values)
    kinds = set(ReviewItem.objects.filter(state="open").values_list("kind", flat=True))
    assert kinds == set(ReviewItem.Kind.values)
    before = Registration.objects.count()
    call_command("seed_demo", stdout=__import__("io").StringIO())
    assert Registration.objects.count() == before
