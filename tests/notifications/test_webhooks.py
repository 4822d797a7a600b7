"""Delivery-status and opt-out webhooks: signed by the provider or rejected; never backwards."""

import json

import pytest

from integrations.models import WebhookEvent
from notifications.delivery import create_message
from notifications.models import NotificationLog
from registrations.models import AuditLog, Status
from tests.fakes import resend as fake_resend_mod
from tests.fakes import twilio as fake_twilio_mod

Msg = NotificationLog.Status
PUBLIC = "https://jlf.example.org"


@pytest.fixture
def resend_secret(settings):
    settings.RESEND_WEBHOOK_SECRET = fake_resend_mod.WEBHOOK_SECRET
    return settings.RESEND_WEBHOOK_SECRET


@pytest.fixture
def twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = fake_twilio_mod.AUTH_TOKEN
    settings.TWILIO_ACCOUNT_SID = fake_twilio_mod.ACCOUNT_SID
    settings.PUBLIC_BASE_URL = PUBLIC
    return settings.TWILIO_AUTH_TOKEN


@pytest.fixture
def email_message(one_sided):
    reg = one_sided(Status.PAID_ONLY)
    message, _ = create_message(
        channel="email", kind="reminder_booking", recipient=reg.attendee.email, registration=reg
    )
    NotificationLog.objects.filter(pk=message.pk).update(status=Msg.SENT, provider="resend", provider_id="em_123")
    message.refresh_from_db()
    return message


@pytest.fixture
def sms_message(one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    message, _ = create_message(channel="sms", kind="reminder_payment", recipient="+14155550123", registration=reg)
    NotificationLog.objects.filter(pk=message.pk).update(status=Msg.SENT, provider="twilio", provider_id="SM123")
    message.refresh_from_db()
    return message


def post_resend(client, payload: dict, *, secret=fake_resend_mod.WEBHOOK_SECRET, headers=None, msg_id=None):
    body = json.dumps(payload)
    signed = fake_resend_mod.sign(body, secret, msg_id=msg_id)
    signed.update(headers or {})
    return client.post("/webhooks/resend/", body, content_type="application/json", headers=signed)


def post_twilio(client, path: str, params: dict, *, token=fake_twilio_mod.AUTH_TOKEN, signature=None):
    sig = signature if signature is not None else fake_twilio_mod.sign(f"{PUBLIC}{path}", params, token)
    return client.post(path, params, headers={"X-Twilio-Signature": sig})


# --- Resend --------------------------------------------------------------------------------------
def test_resend_delivered_updates_the_message_and_lands_in_the_inbox(client, resend_secret, email_message):
    response = post_resend(client, fake_resend_mod.event("email.delivered", "em_123"), msg_id="msg_a")
    assert response.status_code == 200
    email_message.refresh_from_db()
    assert email_message.status == Msg.DELIVERED and email_message.delivered_at
    row = WebhookEvent.objects.get(provider="resend", event_id="msg_a")
    assert row.status == WebhookEvent.Status.PROCESSED and row.object_id == "em_123"


def test_resend_statuses_never_move_backwards_but_a_later_bounce_counts(client, resend_secret, email_message):
    post_resend(client, fake_resend_mod.event("email.delivered", "em_123"))
    post_resend(client, fake_resend_mod.event("email.sent", "em_123"))  # late
    email_message.refresh_from_db()
    assert email_message.status == Msg.DELIVERED

    bounce = {"bounce": {"type": "Permanent", "subType": "General", "message": "mailbox does not exist"}}
    post_resend(client, fake_resend_mod.event("email.bounced", "em_123", **bounce))
    email_message.refresh_from_db()
    assert email_message.status == Msg.BOUNCED and "mailbox does not exist" in email_message.error


def test_a_spam_complaint_unsubscribes_the_attendee_from_reminder_emails(client, resend_secret, email_message):
    post_resend(client, fake_resend_mod.event("email.complained", "em_123"))
    email_message.refresh_from_db()
    attendee = email_message.attendee
    attendee.refresh_from_db()
    assert email_message.status == Msg.COMPLAINED and attendee.email_opt_out
    assert AuditLog.objects.get(action="attendee.opted_out").after["via"] == "resend-complaint"


def test_resend_event_for_an_unknown_email_is_logged_and_answered_200(db, client, resend_secret, caplog):
    caplog.set_level("INFO", logger="notifications.webhooks")
    response = post_resend(client, fake_resend_mod.event("email.delivered", "em_nobody"), msg_id="msg_u")
    assert response.status_code == 200
    assert "unknown email id em_nobody" in caplog.text
    assert WebhookEvent.objects.get(event_id="msg_u").status == WebhookEvent.Status.IGNORED


def test_resend_event_finds_our_row_by_tag_when_we_crashed_before_recording_the_id(client, resend_secret, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    message, _ = create_message(channel="email", kind="reminder_booking", recipient=reg.attendee.email)
    payload = fake_resend_mod.event(
        "email.delivered", "em_late", tags={"kind": "reminder_booking", "message": str(message.uuid)}
    )
    post_resend(client, payload)
    message.refresh_from_db()
    assert (message.provider_id, message.status) == ("em_late", Msg.DELIVERED)


def test_a_redelivered_resend_event_is_not_applied_twice(client, resend_secret, email_message):
    payload = fake_resend_mod.event("email.delivered", "em_123")
    post_resend(client, payload, msg_id="msg_dup")
    post_resend(client, payload, msg_id="msg_dup")
    row = WebhookEvent.objects.get(event_id="msg_dup")
    assert row.deliveries == 2 and row.attempts == 1


@pytest.mark.parametrize(
    "case",
    ["wrong_secret", "no_headers", "tampered_body", "stale_timestamp", "not_configured"],
)
def test_resend_rejects_what_resend_did_not_sign_with_400_and_a_warning(
    client, settings, resend_secret, email_message, caplog, case
):
    payload = fake_resend_mod.event("email.delivered", "em_123")
    body = json.dumps(payload)
    if case == "wrong_secret":
        headers = fake_resend_mod.sign(body, "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
    elif case == "no_headers":
        headers = {}
    elif case == "tampered_body":
        headers = fake_resend_mod.sign(body)
        body = body.replace("email.delivered", "email.bounced")
    elif case == "stale_timestamp":
        headers = fake_resend_mod.sign(body, timestamp=1_600_000_000)
    else:
        headers = fake_resend_mod.sign(body)
        settings.RESEND_WEBHOOK_SECRET = ""
    caplog.set_level("WARNING", logger="notifications.views")

    response = client.post("/webhooks/resend/", body, content_type="application/json", headers=headers)

    assert response.status_code == 400
    assert "resend webhook rejected" in caplog.text
    assert fake_resend_mod.WEBHOOK_SECRET not in caplog.text
    assert WebhookEvent.objects.count() == 0
    email_message.refresh_from_db()
    assert email_message.status == Msg.SENT


# --- Twilio status -------------------------------------------------------------------------------
def _status(message, status, error_code=None):
    return fake_twilio_mod.status_params(
        {
            "account_sid": fake_twilio_mod.ACCOUNT_SID,
            "from": "",
            "sid": message.provider_id or "SMnew",
            "to": message.recipient,
        },
        status,
        error_code,
    )


def test_twilio_delivered_is_recorded_and_a_late_sent_does_not_undo_it(client, twilio_token, sms_message):
    path = f"/webhooks/twilio/status/?m={sms_message.uuid}"
    assert post_twilio(client, path, _status(sms_message, "delivered")).status_code == 200
    assert post_twilio(client, path, _status(sms_message, "sent")).status_code == 200
    sms_message.refresh_from_db()
    assert sms_message.status == Msg.DELIVERED and sms_message.provider_status == "delivered"


def test_twilio_callback_ties_the_sid_to_our_row_by_uuid_after_a_crash(client, twilio_token, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    message, _ = create_message(channel="sms", kind="reminder_payment", recipient="+14155550123", registration=reg)
    params = _status(message, "sent")
    params["MessageSid"] = params["SmsSid"] = "SMlate"
    assert post_twilio(client, f"/webhooks/twilio/status/?m={message.uuid}", params).status_code == 200
    message.refresh_from_db()
    assert (message.provider_id, message.status) == ("SMlate", Msg.SENT)


def test_twilio_failure_21610_opts_the_attendee_out_of_sms(client, twilio_token, sms_message):
    post_twilio(client, "/webhooks/twilio/status/", _status(sms_message, "failed", 21610))
    sms_message.refresh_from_db()
    sms_message.attendee.refresh_from_db()
    assert sms_message.status == Msg.FAILED and "21610" in sms_message.error
    assert sms_message.attendee.sms_opt_out


def test_twilio_status_for_an_unknown_message_is_answered_200(db, client, twilio_token, caplog):
    caplog.set_level("INFO", logger="notifications.webhooks")
    params = fake_twilio_mod.status_params(
        {"account_sid": fake_twilio_mod.ACCOUNT_SID, "from": "", "sid": "SMunknown", "to": "+14155550000"}, "delivered"
    )
    assert post_twilio(client, "/webhooks/twilio/status/", params).status_code == 200
    assert "unknown message SMunknown" in caplog.text


@pytest.mark.parametrize("case", ["bad_signature", "no_signature", "signed_for_internal_url", "not_configured"])
def test_twilio_rejects_unsigned_or_missigned_callbacks(client, settings, twilio_token, sms_message, caplog, case):
    params = _status(sms_message, "delivered")
    path = "/webhooks/twilio/status/"
    caplog.set_level("WARNING", logger="notifications.views")
    if case == "bad_signature":
        response = post_twilio(client, path, params, token="not-the-token")
    elif case == "no_signature":
        response = client.post(path, params)
    elif case == "signed_for_internal_url":
        # What Django would see behind the proxy: http and an internal host. Not what Twilio signed.
        sig = fake_twilio_mod.sign(f"http://testserver{path}", params)
        response = post_twilio(client, path, params, signature=sig)
    else:
        settings.TWILIO_AUTH_TOKEN = ""
        response = post_twilio(client, path, params)
    assert response.status_code == 400
    assert "twilio webhook rejected" in caplog.text
    assert fake_twilio_mod.AUTH_TOKEN not in caplog.text
    sms_message.refresh_from_db()
    assert sms_message.status == Msg.SENT


# --- Twilio inbound (STOP / START) ---------------------------------------------------------------
def test_an_inbound_stop_stops_sms_and_start_resumes_it(client, twilio_token, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    stop = fake_twilio_mod.inbound_params("+14155550123", " stop ")
    response = post_twilio(client, "/webhooks/twilio/inbound/", stop)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content
    reg.attendee.refresh_from_db()
    assert reg.attendee.sms_opt_out

    post_twilio(client, "/webhooks/twilio/inbound/", fake_twilio_mod.inbound_params("+14155550123", "START"))
    reg.attendee.refresh_from_db()
    assert not reg.attendee.sms_opt_out
    assert list(
        AuditLog.objects.filter(action__startswith="attendee.opted").values_list("action", flat=True).order_by("pk")
    ) == [
        "attendee.opted_out",
        "attendee.opted_in",
    ]


def test_an_unsigned_inbound_stop_changes_nothing(client, twilio_token, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    params = fake_twilio_mod.inbound_params("+14155550123", "STOP")
    assert post_twilio(client, "/webhooks/twilio/inbound/", params, signature="forged").status_code == 400
    reg.attendee.refresh_from_db()
    assert not reg.attendee.sms_opt_out


@pytest.mark.parametrize("body", ['["a", "list"]', '"just a string"', '{"type": 5, "data": "nope"}'])
def test_odd_but_signed_resend_bodies_never_cause_a_500(db, client, resend_secret, body):
    response = client.post(
        "/webhooks/resend/", body, content_type="application/json", headers=fake_resend_mod.sign(body)
    )
    assert response.status_code in (200, 400)


def test_odd_twilio_callbacks_never_cause_a_500(client, twilio_token, db):
    for params in ({}, {"MessageStatus": "delivered"}, {"MessageSid": "SMx", "MessageStatus": "weird"}):
        assert post_twilio(client, "/webhooks/twilio/status/?m=not-a-uuid", params).status_code == 200
    assert post_twilio(client, "/webhooks/twilio/inbound/", {"Body": "hello"}).status_code == 200
