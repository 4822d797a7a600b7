"""The unsubscribe link and the attendee status page: signed links, friendly when not valid."""

import time

import pytest
from django.core.signing import TimestampSigner, b62_encode
from django.test import Client

from notifications.models import NotificationLog
from notifications.scan import select_due
from notifications.tokens import STATUS_SALT, status_token, unsubscribe_token
from registrations.audit import Actor, audit
from registrations.models import AuditLog, Payment, Registration, Status
from registrations.resolutions import merge_registrations


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def unsubscribe_path(attendee):
    return f"/n/unsubscribe/{unsubscribe_token(attendee.pk)}/"


def test_opening_the_unsubscribe_link_asks_first_and_changes_nothing(client, one_sided):
    reg = one_sided(Status.PAID_ONLY, email="river.stone@example.org")
    response = client.get(unsubscribe_path(reg.attendee))
    assert response.status_code == 200
    assert b"Stop reminder emails?" in response.content and b"r\xe2\x80\xa2" in response.content  # masked address
    assert b"river.stone@example.org" not in response.content
    reg.attendee.refresh_from_db()
    assert not reg.attendee.email_opt_out


def test_one_click_unsubscribe_post_works_without_a_csrf_token_and_is_audited(csrf_client, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    response = csrf_client.post(
        unsubscribe_path(reg.attendee), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and b"You're unsubscribed" in response.content
    reg.attendee.refresh_from_db()
    assert reg.attendee.email_opt_out and reg.attendee.opted_out_at
    audit = AuditLog.objects.get(action="attendee.opted_out")
    assert audit.after == {"email_opt_out": True, "channel": "email", "via": "unsubscribe-link"}
    csrf_client.post(unsubscribe_path(reg.attendee))  # again: no second audit row
    assert AuditLog.objects.filter(action="attendee.opted_out").count() == 1


def test_the_confirm_form_can_also_stop_text_messages(client, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    assert b"Also stop reminder text messages" in client.get(unsubscribe_path(reg.attendee)).content
    client.post(unsubscribe_path(reg.attendee), {"sms": "1"})
    reg.attendee.refresh_from_db()
    assert reg.attendee.email_opt_out and reg.attendee.sms_opt_out


def test_an_unsubscribed_attendee_is_no_longer_reminded(client, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    assert [pk for pk, _, _ in select_due()[0]] == [reg.pk]
    client.post(unsubscribe_path(reg.attendee))
    assert select_due()[0] == []


def test_an_unsubscribe_link_from_before_a_merge_unsubscribes_the_merged_person(client, one_sided):
    """A reminder went to the address that was later merged into another registration (same
    person). The link in that old email carries the merged-away attendee; it must still work and
    stop reminders to the surviving attendee."""
    merged = one_sided(Status.BOOKED_ONLY, email="river.old@example.org")
    old_link = unsubscribe_path(merged.attendee)  # in an email already sent
    survivor = one_sided(Status.PAID_ONLY, email="river.stone@example.org")
    merge_registrations(survivor, merged, Actor.system("test"), reason="same person")

    page = client.get(old_link)
    assert page.status_code == 200 and b"Stop reminder emails?" in page.content
    response = client.post(old_link)

    assert response.status_code == 200 and b"You're unsubscribed" in response.content
    survivor.attendee.refresh_from_db()
    assert survivor.attendee.email_opt_out
    audit = AuditLog.objects.get(action="attendee.opted_out")
    assert audit.object_id == str(survivor.attendee.pk) and audit.after["via"] == "unsubscribe-link"


def test_an_old_unsubscribe_link_still_works_after_the_survivor_was_merged_again(client, one_sided):
    first = one_sided(Status.BOOKED_ONLY, email="a@example.org")
    old_link = unsubscribe_path(first.attendee)
    second = one_sided(Status.PAID_ONLY, email="b@example.org")
    third = one_sided(Status.PAID_ONLY, email="c@example.org")
    merge_registrations(second, first, Actor.system("test"), reason="same person")
    merge_registrations(third, second, Actor.system("test"), reason="same person")

    client.post(old_link)

    third.attendee.refresh_from_db()
    assert third.attendee.email_opt_out


def test_an_unsubscribe_link_for_someone_merged_before_merges_recorded_the_attendee_still_works(client, one_sided):
    """Merges made before the merge's audit row named the merged attendee: the link finds the
    survivor through the address the attendee was created with (now the survivor's alias)."""
    merged = one_sided(Status.BOOKED_ONLY, email="river.old@example.org")
    audit("attendee.created", actor=Actor.system("test"), obj=merged.attendee, after={"email": merged.attendee.email})
    old_link = unsubscribe_path(merged.attendee)
    survivor = one_sided(Status.PAID_ONLY, email="river.stone@example.org")
    merge_registrations(survivor, merged, Actor.system("test"), reason="same person")
    entry = AuditLog.objects.get(action="registration.merged")
    entry.before.pop("merged_attendee")
    entry.save()

    assert client.post(old_link).status_code == 200
    survivor.attendee.refresh_from_db()
    assert survivor.attendee.email_opt_out


@pytest.mark.parametrize("token", ["nonsense", "eyJhIjoxfQ:forged:signature", unsubscribe_token(1) + "x"])
def test_a_forged_unsubscribe_token_gets_the_friendly_page(client, one_sided, token):
    reg = one_sided(Status.PAID_ONLY)
    response = client.post(f"/n/unsubscribe/{token}/")
    assert response.status_code == 404 and b"doesn't work any more" in response.content
    reg.attendee.refresh_from_db()
    assert not reg.attendee.email_opt_out


def status_path(reg):
    return f"/n/status/{status_token(reg.pk)}/"


def test_paid_only_sees_paid_tick_booked_cross_and_the_booking_button(client, one_sided):
    reg = one_sided(Status.PAID_ONLY, name="River Stone")
    Payment.objects.create(registration=reg, event=reg.event, state=Payment.State.PAID, amount=12000, manual_key="m1")
    response = client.get(status_path(reg))
    html = response.content.decode()
    assert response.status_code == 200 and "River, here is where you stand" in html
    assert "Paid</span>" in html and "Place not booked yet" in html
    assert "Book my place" in html and "app.acuityscheduling.com" in html and reg.reference in html
    assert response["Referrer-Policy"] == "no-referrer" and "no-store" in response["Cache-Control"]
    assert reg.attendee.email not in html.replace("email=" + reg.attendee.email.replace("@", "%40"), "")


def test_booked_only_sees_the_payment_button(client, one_sided):
    reg = one_sided(Status.BOOKED_ONLY)
    reg.bookings.create(event=reg.event, acuity_appointment_id="1", email=reg.attendee.email)
    html = client.get(status_path(reg)).content.decode()
    assert "Place booked" in html and "Not paid yet" in html
    assert "Complete my payment" in html and "buy.stripe.com" in html


def test_a_complete_registration_sees_no_button(client, one_sided):
    reg = one_sided(Status.COMPLETE)
    html = client.get(status_path(reg)).content.decode()
    assert "You're all set" in html and 'class="button"' not in html


def _expired_token(registration_id: int) -> str:
    class LastMonth(TimestampSigner):
        def timestamp(self):
            return b62_encode(int(time.time()) - 31 * 24 * 3600)

    return LastMonth(salt=STATUS_SALT).sign_object({"r": registration_id}, compress=True)


@pytest.mark.parametrize("kind", ["expired", "forged", "other_salt"])
def test_an_expired_or_forged_status_link_reveals_nothing(client, one_sided, kind):
    reg = one_sided(Status.PAID_ONLY)
    token = {
        "expired": _expired_token(reg.pk),
        "forged": status_token(reg.pk)[:-3] + "abc",
        "other_salt": unsubscribe_token(reg.attendee.pk),
    }[kind]
    response = client.get(f"/n/status/{token}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "doesn't work any more" in html and reg.event.name not in html and "River" not in html


def test_status_links_in_messages_point_at_this_page(fake_resend, one_sided, client):
    from notifications.scan import run_scan

    reg = one_sided(Status.PAID_ONLY)
    run_scan(process="inline")
    text = fake_resend.emails[0]["text"]
    url = next(w for w in text.split() if "/n/status/" in w)
    assert client.get(url.split("http://127.0.0.1:8000", 1)[-1]).status_code == 200
    assert NotificationLog.objects.get().registration == reg
    assert Registration.objects.get(pk=reg.pk).status == Status.PAID_ONLY
