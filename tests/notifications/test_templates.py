"""Message wording: safe with missing data, safe with operators' own templates, previewable."""

import pytest

from notifications.render import render_reminder, sms_segments
from registrations.models import Attendee, Registration, Status
from tests.factories import EventFactory


def bare_registration(**event_fields):
    event = EventFactory(acuity_scheduling_url="", stripe_payment_link_url="", **event_fields)
    attendee = Attendee.objects.create(email="nameless@example.org", name="", phone="")
    return Registration.objects.create(event=event, attendee=attendee)


@pytest.mark.parametrize("missing", ["booking", "payment"])
def test_defaults_render_without_a_name_a_phone_or_a_link(db, missing):
    reg = bare_registration()
    out = render_reminder(reg, missing, status_url="", unsubscribe_url="")
    assert out.errors == []
    assert out.text.startswith("Hi there,")
    assert "Reply to this email" in out.text and "None" not in out.text + out.html + out.sms + out.subject
    assert "Unsubscribe" not in out.text  # no link to offer: no dangling label
    assert out.subject and "\n" not in out.subject
    assert out.sms and "Finish here" not in out.sms


def test_names_are_escaped_in_html_but_not_mangled_in_text(one_sided):
    reg = one_sided(Status.PAID_ONLY, name="<script>alert(1)</script> O'Brien")
    out = render_reminder(reg, "booking", status_url="https://x/s", unsubscribe_url="https://x/u")
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert out.text.startswith("Hi <script>alert(1)</script>,")


def test_an_event_template_uses_its_variables_and_missing_ones_render_empty(one_sided, event):
    event.email_subject_template = "{{ first_name|default:'Friend' }}, {{ action }} for {{ event_name }}{{ nope }}"
    event.sms_text_template = "{{ event_name }}\u00a0— {{ link }}"
    event.save()
    reg = one_sided(Status.BOOKED_ONLY, name="")
    out = render_reminder(reg, "payment")
    assert out.subject == "Friend, complete your payment for Spring Retreat"
    # No non-breaking space, and the dash made plain: either would make the text UCS-2.
    assert "\u00a0" not in out.sms and out.sms.startswith("Spring Retreat - https://buy.stripe.com/")


@pytest.mark.parametrize(
    "template",
    ["{% if %}broken", "{% load static %}{% static 'x' %}", "{% include 'admin/base.html' %}", "{{ x|nosuchfilter }}"],
)
def test_a_broken_or_unsafe_event_template_falls_back_to_the_default_and_says_why(one_sided, event, template):
    event.email_text_template = template
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="River Stone")
    out = render_reminder(reg, "booking")
    assert out.text.startswith("Hi River,")
    assert len(out.errors) == 1 and out.errors[0].startswith("Email text:")


def test_sms_segment_count_tells_gsm_from_unicode():
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("é" * 70) == 1 and sms_segments("✓" * 71) == 2


def test_the_admin_preview_renders_the_reminder_for_a_real_registration(admin_client, one_sided, event):
    reg = one_sided(Status.BOOKED_ONLY, name="River Stone", phone="+14155550123")
    event.email_text_template = "{% if %}"
    event.save()
    response = admin_client.get(f"/admin/notifications/notificationlog/preview/?event={event.pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "River Stone" in html and reg.reference in html
    assert "complete your payment" in html.lower() and "Email text:" in html  # the template error is shown
    assert "segment" in html and "List-Unsubscribe-Post" in html
    change = admin_client.get(f"/admin/registrations/event/{event.pk}/change/").content.decode()
    assert f"/admin/notifications/notificationlog/preview/?event={event.pk}" in change


def test_the_preview_works_for_an_event_without_registrations_and_writes_nothing(admin_client, db):
    event = EventFactory()
    response = admin_client.get(f"/admin/notifications/notificationlog/preview/?event={event.pk}&missing=payment")
    assert response.status_code == 200 and b"made-up attendee" in response.content
    assert Registration.objects.count() == 0 and Attendee.objects.count() == 0


def test_the_preview_is_for_staff_only(client, event):
    response = client.get(f"/admin/notifications/notificationlog/preview/?event={event.pk}")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "query, status",
    [
        ("event=²", 200),  # no event chosen: the list of events
        ("event=³", 200),
        ("event={pk}&registration=²", 200),  # no such registration: another one is shown
        ("event={pk}&registration=99999999999999999999999", 200),
        ("event=99999999999999999999999", 404),  # as any event that does not exist
    ],
)
def test_the_reminder_preview_with_an_odd_number_in_its_address_shows_a_page_not_a_server_error(
    admin_client, event, query, status
):
    """'²' counts as a digit to str.isdigit() but int() refuses it: a pasted or mistyped address."""
    response = admin_client.get(f"/admin/notifications/notificationlog/preview/?{query.format(pk=event.pk)}")

    assert response.status_code == status
