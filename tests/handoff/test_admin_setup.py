"""The operator sees, on the event form, the exact addresses to paste into Stripe and Acuity."""

import html

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("olive", "olive@example.org", "pw-olive-123")


def test_event_form_shows_both_redirect_addresses_ready_to_copy(client, operator, event):
    client.force_login(operator)
    resp = client.get(f"/admin/registrations/event/{event.pk}/change/")
    assert resp.status_code == 200
    body = html.unescape(resp.content.decode())
    assert 'value="https://reg.example.org/r/paid/?session_id={CHECKOUT_SESSION_ID}&event=spring-retreat"' in body
    assert 'value="https://reg.example.org/r/booked/?appointment=%appointmentId%&event=spring-retreat"' in body
    assert "readonly" in body


def test_new_event_form_explains_the_addresses_come_after_saving(client, operator, db):
    client.force_login(operator)
    resp = client.get("/admin/registrations/event/add/")
    assert resp.status_code == 200
    assert "Save the event first" in resp.content.decode()


def test_seat_references_are_listed_read_only(client, operator, db):
    client.force_login(operator)
    assert client.get("/admin/registrations/seatreference/").status_code == 200
    assert client.get("/admin/registrations/seatreference/add/").status_code == 403
