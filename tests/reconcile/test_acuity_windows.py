"""Acuity returns at most 100 appointments per answer and has no cursor: windows that come back
full are walked and split so that nothing is lost, and what cannot be split is reported."""

from integrations.models import ReconcileRun
from registrations.models import Booking

from .conftest import ATYPE, day, run_command

LIST = r"^/api/v1/appointments$"


def _book(acuity, n, offset_days, *, calendar_id=6001, canceled=False, prefix="p"):
    for i in range(n):
        acuity.add_appointment(
            email=f"{prefix}{offset_days}-{calendar_id}-{i}@example.org",
            starts_at=day(offset_days, hour=8 + i % 10),
            calendar_id=calendar_id,
            canceled=canceled,
        )


def test_more_than_100_appointments_over_several_days_are_all_found(event, fake_acuity):
    for offset in (10, 11, 12, 13):
        _book(fake_acuity, 60, offset)

    result = run_command("--provider", "acuity")

    assert Booking.objects.count() == 240
    assert result.counts(provider="acuity") == {"seen": 240, "known": 0, "new": 240, "changed": 0, "errors": 0}
    # each full answer moves the window's end to its oldest day: 4 calls, none thrown away
    assert fake_acuity.count("GET", LIST) == 4


def test_a_day_with_more_than_100_is_split_by_calendar(event, fake_acuity):
    _book(fake_acuity, 75, 15, calendar_id=6001)
    _book(fake_acuity, 75, 15, calendar_id=6002)
    _book(fake_acuity, 30, 16)

    result = run_command("--provider", "acuity")

    assert Booking.objects.count() == 180
    assert result.run.status == ReconcileRun.Status.OK
    assert fake_acuity.count("GET", r"^/api/v1/calendars$") == 1
    assert {r.query.get("calendarID") for r in fake_acuity.requests if r.path.endswith("/appointments")} >= {
        "6001",
        "6002",
    }


def test_a_full_day_in_one_calendar_is_split_into_active_and_cancelled(event, fake_acuity):
    _book(fake_acuity, 80, 15)
    _book(fake_acuity, 40, 15, canceled=True, prefix="c")

    result = run_command("--provider", "acuity")

    assert Booking.objects.count() == 120
    assert Booking.objects.filter(cancelled=True).count() == 40
    assert result.run.status == ReconcileRun.Status.OK


def test_a_day_that_cannot_be_split_is_reported_not_hidden(event, fake_acuity):
    _book(fake_acuity, 130, 15)
    _book(fake_acuity, 10, 14)

    result = run_command("--provider", "acuity", expect_ok=False)

    assert result.run.status == ReconcileRun.Status.PARTIAL
    assert Booking.objects.count() == 110  # every appointment Acuity would show us
    [error] = result.run.errors
    assert error["event"] == "spring-retreat" and error["provider"] == "acuity"
    assert f"appointment type {ATYPE}" in error["message"] and day(15).date().isoformat() in error["message"]
    assert result.counts(provider="acuity")["errors"] == 1


def test_appointments_outside_the_window_are_not_asked_for(event, fake_acuity):
    _book(fake_acuity, 3, -30)  # long past: a backfill's business
    _book(fake_acuity, 2, 5)

    result = run_command("--provider", "acuity", "--since", "3d")

    assert result.counts(provider="acuity")["seen"] == 2
    [req] = [r for r in fake_acuity.requests if r.path.endswith("/appointments")]
    assert req.query["showall"] == "true" and req.query["appointmentTypeID"] == str(ATYPE)
    assert req.query["max"] == "100"
