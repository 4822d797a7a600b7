"""An operator switches text messages off for an event: a reminder text still waiting for a retry
(Twilio was down when it was first tried) is not sent afterwards; the email goes on as usual."""

from datetime import timedelta

from django.utils import timezone

from notifications.models import NotificationLog
from notifications.scan import run_scan
from registrations.models import Event, Status

Msg = NotificationLog.Status


def test_a_text_waiting_for_a_retry_is_not_sent_once_texts_are_switched_off_for_the_event(
    fake_resend, fake_twilio, one_sided, event
):
    one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    # Twilio is down for the first try: the text waits for a retry; the email went out.
    fake_twilio.fail_next(1, status=503)
    run_scan(process="inline")
    sms = NotificationLog.objects.get(channel="sms")
    assert sms.status == Msg.QUEUED and len(fake_resend.emails) == 1

    Event.objects.filter(pk=event.pk).update(sms_enabled=False)  # the operator switches texts off
    run_scan(process="inline", now=timezone.now() + timedelta(minutes=6))  # the retry sweep

    sms.refresh_from_db()
    assert fake_twilio.messages == []
    assert sms.status == Msg.SUPPRESSED and "text messages are switched off" in sms.error
