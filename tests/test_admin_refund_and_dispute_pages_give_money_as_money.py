"""The admin's refund page, and the dispute list and page, still gave amounts as stored, in the
currency's minor units: a $40.00 refund's page read "Amount: 4000" (and "Refund re_… (4000)" as its
title), a $120.00 dispute "12000" in the list and on its page, a ¥12,000 one "12000" too, while the
payment and refund lists read "120.00 USD". They read as money, in the payment's currency (its
event's when the payment does not say), as the payment list and page do; the pages stay read-only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registrations.models import Dispute, Payment, Refund
from tests.factories import EventFactory, RegistrationFactory
from tests.test_admin_payment_lists_give_money_as_money import _cells
from tests.test_admin_payment_page_gives_money_as_money import labels, shown

pytestmark = pytest.mark.django_db


def payment(event, currency="usd", **kw) -> Payment:
    return Payment.objects.create(
        event=event,
        registration=RegistrationFactory(event=event),
        method=Payment.Method.STRIPE,
        state=Payment.State.PAID,
        amount=12000,
        currency=currency,
        **kw,
    )


def test_the_refund_page_gives_its_amount_as_money(admin_client):
    p = payment(EventFactory(), checkout_session_id="cs_refund_page")
    refund = Refund.objects.create(payment=p, refund_id="re_page", amount=4000, status="succeeded")

    response = admin_client.get(reverse("admin:registrations_refund_change", args=[refund.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert shown(page, "amount_display") == "40.00 USD"
    assert "4000" not in page
    assert "Amount" in labels(page)
    assert 'name="_save"' not in page


def test_the_dispute_list_and_page_give_the_amount_as_money(admin_client):
    usd = payment(EventFactory(), checkout_session_id="cs_dispute_usd")
    yen = payment(EventFactory(currency="jpy"), currency="jpy", checkout_session_id="cs_dispute_yen")
    bare = payment(EventFactory(currency="eur"), currency="", checkout_session_id="cs_dispute_bare")
    Dispute.objects.create(payment=usd, dispute_id="dp_usd", amount=12000, status="needs_response")
    Dispute.objects.create(payment=yen, dispute_id="dp_yen", amount=12000, status="needs_response")
    eur = Dispute.objects.create(payment=bare, dispute_id="dp_eur", amount=5000, status="won")

    page = admin_client.get(reverse("admin:registrations_dispute_changelist")).content.decode()
    assert sorted(_cells(page, "amount_display")) == ["12,000 JPY", "120.00 USD", "50.00 EUR"]

    response = admin_client.get(reverse("admin:registrations_dispute_change", args=[eur.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert shown(page, "amount_display") == "50.00 EUR"
    assert "Amount" in labels(page)
    assert 'name="_save"' not in page


def test_a_refund_or_dispute_not_yet_tied_to_a_payment_keeps_its_stored_amount(admin_client):
    refund = Refund.objects.create(refund_id="re_orphan", amount=4000)
    dispute = Dispute.objects.create(dispute_id="dp_orphan", amount=12000)

    page = admin_client.get(reverse("admin:registrations_refund_change", args=[refund.pk])).content.decode()
    assert shown(page, "amount_display") == "4000"
    page = admin_client.get(reverse("admin:registrations_dispute_change", args=[dispute.pk])).content.decode()
    assert shown(page, "amount_display") == "12000"


def test_the_dispute_list_reads_the_events_currency_without_a_query_per_row(admin_client):
    def dispute_list_queries(count: int) -> int:
        event = EventFactory()
        for _ in range(count):
            p = Payment.objects.create(event=event, method=Payment.Method.STRIPE, amount=12000, currency="")
            Dispute.objects.create(payment=p, dispute_id=f"dp_{p.pk}", amount=12000)
        with CaptureQueriesContext(connection) as ctx:
            page = admin_client.get(reverse("admin:registrations_dispute_changelist")).content.decode()
        assert _cells(page, "amount_display")[0] == "120.00 USD"
        return len(ctx.captured_queries)

    one = dispute_list_queries(1)
    assert dispute_list_queries(5) == one
