"""The live check before a booking reminder finds that the attendee had booked and cancelled (the
webhooks were lost): the registration goes to an operator ("paid but cancelled") and no reminder
goes out. The Reminders list, the registration's history and the scan's figures must say it was
not sent, not "Sent by email"."""

from notifications.models import NotificationLog, Reminder
from notifications.scan import run_scan
from registrations.models import Status

from .conftest import ATYPE
from .test_live_check import EMAIL, paid_only


def test_a_booking_reminder_stopped_by_a_cancelled_booking_found_live_is_not_counted_as_sent(
    event, fake_acuity, fake_resend
):
    reg = paid_only()
    fake_acuity.add_appointment(email=EMAIL, appointment_type_id=int(ATYPE), canceled=True)

    result = run_scan(process="inline")

    reg.refresh_from_db()
    assert reg.status == Status.NEEDS_REVIEW  # paid but cancelled: an operator decides
    assert fake_resend.emails == []
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.SKIPPED, reminder.note
    assert reminder.note.startswith("Not sent:") and "needs review" in reminder.note
    assert result.outcomes == {"skipped": 1}
    assert not NotificationLog.objects.filter(status__in=[NotificationLog.Status.QUEUED, NotificationLog.Status.SENT])
