"""The event page: the registrations table (status filter, search, sort, 50 a page), a row's
timeline opened in place, marking paid / booked by hand with a reason, and the handoff links."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import AuditLog, Booking, Payment, Registration, Status

from .scenario import bulk_registrations, pay

pytestmark = pytest.mark.django_db


def event_url(event, query=""):
    return reverse("ops:event", args=[event.slug]) + (f"?{query}" if query else "")


def test_the_event_page_lists_registrations_with_status_money_and_summary(ops_client, world):
    page = ops_client.get(event_url(world.event)).content.decode()
    assert "calm.complete@example.org" in page and "bo.bookedonly@example.org" in page
    assert 'class="status st-complete"' in page
    assert "$120.00" in page
    assert "Seats paid / booked / capacity" in page
    assert "<svg" in page and "registrations over time" in page  # server-drawn chart


def test_filtering_by_status(ops_client, world):
    page = ops_client.get(event_url(world.event, "status=booked_only")).content.decode()
    assert "bo.bookedonly@example.org" in page
    assert "calm.complete@example.org" not in page


@pytest.mark.parametrize(
    "query,expected",
    [("q=Calm", "calm.complete@example.org"), ("q=PAT.PAIDONLY", "pat.paidonly@example.org"), ("q=5550101", "river")],
)
def test_searching_by_name_email_or_phone(ops_client, world, query, expected):
    page = ops_client.get(event_url(world.event, query)).content.decode()
    assert expected in page
    assert "bo.bookedonly@example.org" not in page


def test_searching_by_reference(ops_client, world):
    reg = Registration.objects.get(attendee__email="bo.bookedonly@example.org")
    page = ops_client.get(event_url(world.event, f"q={reg.reference}")).content.decode()
    assert "bo.bookedonly@example.org" in page and "calm.complete@example.org" not in page


def test_a_search_that_matches_nobody_says_so(ops_client, world):
    page = ops_client.get(event_url(world.event, "q=zzzz-nobody")).content.decode()
    assert "No registration matches these filters" in page


def test_sorting_by_email_both_ways(ops_client, world):
    asc = ops_client.get(event_url(world.event, "sort=email")).content.decode()
    desc = ops_client.get(event_url(world.event, "sort=-email")).content.decode()
    assert asc.index("bo.bookedonly@") < asc.index("r.stone@")
    assert desc.index("r.stone@") < desc.index("bo.bookedonly@")


def test_an_unknown_sort_or_page_falls_back_instead_of_failing(ops_client, world):
    assert ops_client.get(event_url(world.event, "sort=drop+table&page=abc")).status_code == 200
    assert ops_client.get(event_url(world.event, "page=999")).status_code == 200


def test_fifty_registrations_a_page(ops_client, event):
    bulk_registrations(event, 120)
    page1 = ops_client.get(event_url(event)).content.decode()
    assert page1.count('class="reg-row"') == 50
    assert "page 1 of 3" in page1
    page3 = ops_client.get(event_url(event, "page=3")).content.decode()
    assert page3.count('class="reg-row"') == 20


def test_an_htmx_filter_request_gets_only_the_table(ops_client, world, htmx_headers):
    response = ops_client.get(
        event_url(world.event, "status=complete"), headers=htmx_headers("http://testserver/ops/", "registrations")
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="registrations"')
    assert "<html" not in body


def test_a_row_opens_its_timeline_in_place_with_who_and_when(ops_client, world, htmx_headers):
    reg = Registration.objects.get(attendee__email="dora.dispute@example.org")
    url = reverse("ops:registration", args=[world.event.slug, reg.pk])
    body = ops_client.get(url, headers=htmx_headers()).content.decode()
    assert body.lstrip().startswith(f'<tr id="tl-{reg.pk}"')
    for text in ("Payment recorded", "Booking recorded", "Dispute recorded", "Put in the review queue", "by System"):
        assert text in body, text
    closed = ops_client.get(url + "?close=1", headers=htmx_headers()).content.decode()
    assert closed.strip() == f'<tr id="tl-{reg.pk}" class="timeline-slot"></tr>'


def test_the_timeline_is_also_a_page_of_its_own(ops_client, world):
    reg = Registration.objects.get(attendee__email="carl.cancel@example.org")
    page = ops_client.get(reverse("ops:registration", args=[world.event.slug, reg.pk])).content.decode()
    assert "Booking cancelled" in page and "<html" in page


def test_a_registration_of_another_event_is_not_found(ops_client, world):
    from tests.factories import EventFactory

    other = EventFactory(slug="other-event")
    reg = Registration.objects.filter(event=world.event).first()
    assert ops_client.get(reverse("ops:registration", args=[other.slug, reg.pk])).status_code == 404


def test_marking_a_booked_registration_paid_by_hand(ops_client, world, operator, htmx_headers):
    reg = Registration.objects.get(attendee__email="bo.bookedonly@example.org")
    url = reverse("ops:mark_paid", args=[world.event.slug, reg.pk])
    data = {"amount": "120", "method": "cash", "reason": "paid cash at the office", "token": "a" * 32}
    body = ops_client.post(url, data, headers=htmx_headers()).content.decode()
    assert "is marked paid" in body
    assert f'<tr id="reg-{reg.pk}" class="reg-row" hx-swap-oob="true">' in body
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE and reg.manual_paid_reason == "paid cash at the office"
    payment = Payment.objects.get(registration=reg)
    assert (payment.source, payment.method, payment.amount, payment.manual_key) == (
        "manual",
        "cash",
        12000,
        "manual-paid:" + "a" * 32,
    )
    assert AuditLog.objects.filter(action="registration.marked_paid", actor_user=operator).count() == 1
    # The same form submitted twice records one payment.
    ops_client.post(url, data, headers=htmx_headers())
    assert Payment.objects.filter(registration=reg).count() == 1


def test_marking_paid_needs_a_reason_and_a_sane_amount(ops_client, world, htmx_headers):
    reg = Registration.objects.get(attendee__email="bo.bookedonly@example.org")
    url = reverse("ops:mark_paid", args=[world.event.slug, reg.pk])
    body = ops_client.post(
        url, {"amount": "12.345", "method": "cash", "reason": "", "token": "b" * 32}, headers=htmx_headers()
    ).content.decode()
    assert "Use at most two decimal places." in body and "This field is required." in body
    assert not Payment.objects.filter(registration=reg).exists()


def test_marking_a_paid_registration_booked_by_hand(ops_client, world, operator, htmx_headers):
    reg = Registration.objects.get(attendee__email="pat.paidonly@example.org")
    url = reverse("ops:mark_booked", args=[world.event.slug, reg.pk])
    body = ops_client.post(
        url, {"reason": "booked by phone", "token": "c" * 32}, headers=htmx_headers()
    ).content.decode()
    assert "is marked booked" in body
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE and reg.manual_booked_reason == "booked by phone"
    assert Booking.objects.get(registration=reg).source == "manual"
    assert AuditLog.objects.filter(action="registration.marked_booked", actor_user=operator).exists()


def test_marking_without_javascript_redirects_to_the_registration_page(ops_client, world):
    reg = Registration.objects.get(attendee__email="pat.paidonly@example.org")
    bad = ops_client.post(reverse("ops:mark_booked", args=[world.event.slug, reg.pk]), {"reason": "x"})
    assert bad.status_code == 400 and "out of date" in bad.content.decode()
    response = ops_client.post(
        reverse("ops:mark_booked", args=[world.event.slug, reg.pk]), {"reason": "by phone", "token": "d" * 32}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("ops:registration", args=[world.event.slug, reg.pk])
    assert "is marked booked" in ops_client.get(response["Location"]).content.decode()


def test_the_event_page_shows_the_handoff_links_to_paste_into_stripe_and_acuity(ops_client, event, settings):
    settings.PUBLIC_BASE_URL = "https://reg.jlf.example"
    page = ops_client.get(event_url(event)).content.decode()
    assert "https://reg.jlf.example/r/paid/?session_id={CHECKOUT_SESSION_ID}" in page
    assert "/r/booked/?appointment=%appointmentId%" in page


def test_money_figures_count_group_payments_once_and_net_of_refunds(ops_client, event):
    pay("a@example.org", "A", amount=36000, quantity=3)
    page = ops_client.get(event_url(event)).content.decode()
    assert "$360.00" in page
    assert "<dd>3 / 0 / 40</dd>" in page


def test_the_timeline_shows_reminders_and_their_delivery(ops_client, world, htmx_headers):
    models = pytest.importorskip("notifications.models")
    reg = Registration.objects.get(attendee__email="pat.paidonly@example.org")
    reminder = models.Reminder.objects.create(registration=reg, number=1, missing="booking", status="sent")
    models.NotificationLog.objects.create(
        channel="email",
        kind="reminder_booking",
        recipient="pat.paidonly@example.org",
        registration=reg,
        reminder=reminder,
        provider="resend",
        provider_id="re_msg_123",
        status="delivered",
    )
    body = ops_client.get(
        reverse("ops:registration", args=[world.event.slug, reg.pk]), headers=htmx_headers()
    ).content.decode()
    assert "Reminder 1 (booking (paid, not booked)): sent" in body
    assert "Reminder 1 by email to pat.paidonly@example.org" in body
    assert "Delivered · resend · re_msg_123" in body
