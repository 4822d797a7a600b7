"""Walk-ins: an operator records someone paying at the door; amounts are typed in currency units,
complimentary is always 0, every mistake gets a clear message, and a double submit enters one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import AuditLog, Payment, Registration, Status

pytestmark = pytest.mark.django_db


def form(**over):
    data = {
        "name": "Wren Walkin",
        "email": "Wren@Example.org ",
        "phone": "(415) 555-0199",
        "method": "cash",
        "amount": "$1,20.50",
        "note": "paid at the gate",
        "token": "e" * 32,
    }
    data.update(over)
    return data


def test_the_walk_in_form_shows_the_three_payment_methods(ops_client, event):
    page = ops_client.get(reverse("ops:walk_in", args=[event.slug])).content.decode()
    for label in ("Cash", "Card in person", "Complimentary (free)"):
        assert label in page
    assert 'name="token"' in page


def test_entering_a_cash_walk_in(ops_client, event, operator):
    url = reverse("ops:walk_in", args=[event.slug])
    response = ops_client.post(url, form(amount="120.50"))
    assert response.status_code == 302 and response["Location"] == url
    reg = Registration.objects.get(attendee__email="wren@example.org")
    assert reg.status == Status.COMPLETE and reg.source == "walk_in"
    assert reg.attendee.phone == "+14155550199"
    payment = Payment.objects.get(registration=reg)
    assert (payment.method, payment.amount, payment.source) == ("cash", 12050, "walk_in")
    assert AuditLog.objects.filter(action="registration.walk_in", actor_user=operator).exists()
    page = ops_client.get(url).content.decode()
    assert "Walk-in entered: Wren Walkin" in page and "Recent walk-ins" in page


def test_complimentary_is_always_zero(ops_client, event):
    ops_client.post(reverse("ops:walk_in", args=[event.slug]), form(method="complimentary", amount="99"))
    payment = Payment.objects.get(registration__attendee__email="wren@example.org")
    assert (payment.method, payment.amount) == ("complimentary", 0)


@pytest.mark.parametrize(
    "over,message",
    [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"name": ""}, "This field is required."),
        ({"amount": ""}, "Type the amount paid (or choose complimentary)."),
        ({"amount": "0"}, "Type the amount paid (or choose complimentary)."),
        ({"amount": "twelve"}, "Type an amount like 120 or 120.50."),
        ({"amount": "-3"}, "The amount cannot be negative."),
        ({"amount": "1.005"}, "Use at most two decimal places."),
        ({"amount": "9999999"}, "That amount is too large"),
        ({"amount": "1e309"}, "That amount is too large"),
        ({"phone": "12"}, "This does not look like a phone number"),
        ({"method": "bitcoin"}, "Select a valid choice."),
        ({"token": ""}, "This form is out of date"),
    ],
)
def test_mistakes_get_clear_messages_and_enter_nothing(ops_client, event, over, message):
    response = ops_client.post(reverse("ops:walk_in", args=[event.slug]), form(**over))
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Registration.objects.exists()


def test_a_double_submit_enters_one_walk_in(ops_client, event):
    url = reverse("ops:walk_in", args=[event.slug])
    ops_client.post(url, form())
    second = ops_client.post(url, form())
    assert second.status_code == 302
    assert Payment.objects.count() == 1
    assert "already entered" in ops_client.get(url).content.decode()


def test_a_walk_in_for_someone_already_registered_joins_their_registration(ops_client, event):
    from .scenario import book

    book("wren@example.org", "Wren", "Walkin", event=event)
    ops_client.post(reverse("ops:walk_in", args=[event.slug]), form())
    assert Registration.objects.filter(attendee__email="wren@example.org").count() == 1
    page = ops_client.get(reverse("ops:walk_in", args=[event.slug])).content.decode()
    assert "added to their existing registration" in page


def test_an_unknown_event_is_not_found(ops_client, db):
    assert ops_client.get(reverse("ops:walk_in", args=["no-such-event"])).status_code == 404


def test_a_walk_in_typed_with_someone_elses_email_asks_before_adding_to_their_registration(ops_client, event):
    """Bob comes to the door and the operator types Alice's address by mistake: nothing lands on
    Alice's registration until the operator says it is really her."""
    from registrations.audit import SYSTEM
    from registrations.services import enter_walk_in

    alice = enter_walk_in(
        event=event, email="alice@example.org", name="Alice Smith", phone="", method="cash", amount=12000, actor=SYSTEM
    )
    url = reverse("ops:walk_in", args=[event.slug])

    response = ops_client.post(url, form(name="Bob Jones", email="alice@example.org", token="b" * 32))
    assert response.status_code == 400
    page = response.content.decode().replace("&#x27;", "'")
    assert "This address belongs to Alice Smith, not Bob Jones" in page and 'name="same_person"' in page
    assert alice.payments.count() == 1

    response = ops_client.post(url, form(name="Bob Jones", email="alice@example.org", token="b" * 32, same_person="on"))
    assert response.status_code == 302
    assert alice.payments.count() == 2 and Registration.objects.count() == 1


def test_a_walk_in_with_the_owners_name_spelt_slightly_differently_is_entered_at_once(ops_client, event):
    from registrations.audit import SYSTEM
    from registrations.services import enter_walk_in

    enter_walk_in(
        event=event, email="alice@example.org", name="Alice Smith", phone="", method="cash", amount=12000, actor=SYSTEM
    )
    response = ops_client.post(
        reverse("ops:walk_in", args=[event.slug]), form(name="alice smyth", email="alice@example.org")
    )
    assert response.status_code == 302
