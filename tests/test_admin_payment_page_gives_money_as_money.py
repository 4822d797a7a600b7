"""The admin's payment page (opened from the payment list, which reads "120.00 USD") still gave
the amounts as stored, in the currency's minor units: "Amount: 12000", "Amount refunded: 4000",
and a yen payment's "12000" meant ¥12,000. It reads them as money, with the currency, as the
list does; the page stays read-only (payments are changed through the ops actions)."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from registrations.models import Payment
from tests.factories import EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db


def shown(page: str, field: str) -> str:
    """The text of ``field``'s read-only value on an admin change (view) page."""
    match = re.search(rf'<div class="form-row[^"]*field-{field}[^"]*">.*?<div class="readonly">(.*?)</div>', page, re.S)
    assert match, f"no {field} on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def labels(page: str) -> list[str]:
    return [" ".join(html.unescape(t).split()) for t in re.findall(r"<label[^>]*>(.*?):?</label>", page, re.S)]


def payment(event, **kw) -> Payment:
    return Payment.objects.create(
        event=event,
        registration=RegistrationFactory(event=event),
        method=Payment.Method.STRIPE,
        state=Payment.State.PAID,
        **kw,
    )


def test_the_payment_page_gives_its_amounts_as_money(admin_client):
    p = payment(EventFactory(), checkout_session_id="cs_page", amount=12000, amount_refunded=4000, currency="usd")

    response = admin_client.get(reverse("admin:registrations_payment_change", args=[p.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert shown(page, "amount_display") == "120.00 USD"
    assert shown(page, "refunded_display") == "40.00 USD"
    assert "12000" not in page and ">4000<" not in page
    # Where the stored amounts were, under the same names; nothing to edit (no save button).
    assert "Amount" in labels(page) and "Amount refunded" in labels(page)
    assert 'name="_save"' not in page


def test_a_payment_in_yen_or_without_its_own_currency_reads_in_the_right_one(admin_client):
    yen = payment(EventFactory(currency="jpy"), checkout_session_id="cs_yen", amount=12000, currency="jpy")
    bare = payment(EventFactory(currency="eur"), checkout_session_id="cs_bare", amount=5000, currency="")
    unknown = payment(EventFactory(), manual_key="no-amount", amount=None, currency="usd")

    page = admin_client.get(reverse("admin:registrations_payment_change", args=[yen.pk])).content.decode()
    assert shown(page, "amount_display") == "12,000 JPY"
    page = admin_client.get(reverse("admin:registrations_payment_change", args=[bare.pk])).content.decode()
    assert shown(page, "amount_display") == "50.00 EUR"
    page = admin_client.get(reverse("admin:registrations_payment_change", args=[unknown.pk])).content.decode()
    assert shown(page, "amount_display") == "-"
