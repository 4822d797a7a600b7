"""The admin's payment and refund lists gave amounts as stored, in the currency's minor units: a
$120.00 payment read '12000' (and '12000' refunded), a ¥12,000 one '12000' too, beside an event
list saying '120.00 USD'. They read as money, with the currency, as the event list does."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from registrations.models import Payment, Refund
from tests.factories import EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db


def _cells(page: str, field: str) -> list[str]:
    found = re.findall(rf'<td class="field-{field}[^"]*"[^>]*>(.*?)</td>', page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in found]


def test_the_payment_and_refund_lists_give_amounts_as_money(admin_client):
    event = EventFactory()
    payment = Payment.objects.create(
        event=event,
        registration=RegistrationFactory(event=event),
        method=Payment.Method.STRIPE,
        state=Payment.State.PAID,
        checkout_session_id="cs_test_money",
        amount=12000,
        amount_refunded=4000,
        currency="usd",
    )
    Refund.objects.create(payment=payment, refund_id="re_money", amount=4000, status="succeeded")
    page = admin_client.get(reverse("admin:registrations_payment_changelist")).content.decode()
    assert _cells(page, "amount_display") == ["120.00 USD"], page
    assert _cells(page, "refunded_display") == ["40.00 USD"]
    page = admin_client.get(reverse("admin:registrations_refund_changelist")).content.decode()
    assert _cells(page, "amount_display") == ["40.00 USD"]


def test_the_refund_list_reads_the_events_currency_without_a_query_per_row(admin_client):
    """A payment that does not say its currency is read in its event's: the list fetches those
    events with the refunds, not one by one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def refund_list_queries(count: int) -> int:
        event = EventFactory()
        for _ in range(count):
            payment = Payment.objects.create(event=event, method=Payment.Method.STRIPE, amount=12000, currency="")
            Refund.objects.create(payment=payment, refund_id=f"re_{payment.pk}", amount=4000)
        with CaptureQueriesContext(connection) as ctx:
            page = admin_client.get(reverse("admin:registrations_refund_changelist")).content.decode()
        assert _cells(page, "amount_display")[0] == "40.00 USD"
        return len(ctx.captured_queries)

    one = refund_list_queries(1)
    assert refund_list_queries(5) == one
