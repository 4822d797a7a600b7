"""A queue card's text and the facts under it give days and money the same way: the "Bank debit"
line says "$360.00 · … since 17 Nov 2026", so the card's text above it says "$360.00" and
"on 17 Nov 2026", not "360.00 USD" and "on 2026-11-17". Explanations are stored when a card
opens, so cards stored before the change read the same way; the stored text is not rewritten."""

from __future__ import annotations

import html
import re
import zoneinfo
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations.clearing import flag_stalled_debits
from registrations.models import Event, Payment, ReviewItem

from .refunding import refund_post
from .scenario import book, make_event, pay

pytestmark = pytest.mark.django_db

ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _card(client, item, kind) -> tuple[str, str]:
    page = client.get(reverse("ops:queue") + f"?kind={kind}").content.decode()
    card = re.search(rf'id="item-{item.pk}".*?</article>', page, re.S)[0]
    why = re.search(r'<p class="why">(.*?)</p>', card, re.S)[1]
    facts = re.search(r'<dl class="pair">(.*?)</dl>', card, re.S)
    return _plain(why), _plain(facts[1]) if facts else ""


def _plain(s: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", s))).strip()


def test_a_bank_debit_card_gives_its_day_and_amount_as_its_facts_do(ops_client):
    event = make_event()
    tz = zoneinfo.ZoneInfo(event.timezone)
    since = (timezone.now() - timedelta(days=20)).astimezone(tz).replace(hour=11, minute=0)
    pay("gina.group@example.org", "Gina Group", amount=36000, quantity=3)
    Payment.objects.update(state=Payment.State.UNPAID, occurred_at=since)
    book("gina.group@example.org", "Gina", "Group", event=event)
    assert flag_stalled_debits() == 1
    item = ReviewItem.objects.get(kind="payment_not_cleared")

    why, facts = _card(ops_client, item, "payment_not_cleared")

    day = f"{since.day} {since:%b %Y}"
    assert f"$360.00 · Awaiting funds since {day}" in facts, facts
    assert "paid $360.00 by bank debit on " + day in why, why
    assert "360.00 USD" not in why and not ISO_DAY.search(why), why


def test_a_bank_debit_card_near_its_event_gives_the_start_as_the_page_does(ops_client):
    event = make_event()
    starts = (timezone.now() + timedelta(hours=12)).replace(second=0, microsecond=0)
    Event.objects.filter(pk=event.pk).update(starts_at=starts)
    pay("dana.debit@example.org", "Dana Debit")
    Payment.objects.update(state=Payment.State.UNPAID, occurred_at=timezone.now() - timedelta(days=2))
    book("dana.debit@example.org", "Dana", "Debit", event=event)
    assert flag_stalled_debits() == 1
    item = ReviewItem.objects.get(kind="payment_not_cleared")

    why, _ = _card(ops_client, item, "payment_not_cleared")

    local = starts.astimezone(zoneinfo.ZoneInfo(event.timezone))
    assert f"The event starts on {local.day} {local:%b %Y, %H:%M %Z}" in why, why
    assert not ISO_DAY.search(why), why


def test_a_card_stored_before_the_change_reads_in_the_page_formats_too(ops_client):
    make_event()
    pay("dana.double@example.org", "Dana Double", hours_ago=2)
    pay("dana.double@example.org", "Dana Double")
    item = ReviewItem.objects.get(kind="duplicate_payment")
    stored = (
        "Dana Double paid twice for Spring retreat: a bank debit of 1,200.00 USD started on 2026-11-17 was "
        "still clearing when they paid 120.00 USD through Stripe on 2026-11-19, and the debit then cleared too, "
        "on 2026-11-21. Keep both (for example a second seat) or refund one."
    )
    ReviewItem.objects.filter(pk=item.pk).update(explanation=stored)

    why, facts = _card(ops_client, item, "duplicate_payment")

    assert "a bank debit of $1,200.00 started on 17 Nov 2026" in why, why
    assert "they paid $120.00 through Stripe on 19 Nov 2026" in why, why
    assert "cleared too, on 21 Nov 2026." in why, why
    assert "$120.00" in facts, facts
    assert ReviewItem.objects.get(pk=item.pk).explanation == stored  # read differently, never rewritten


def test_a_currency_without_a_symbol_keeps_its_code_as_the_facts_do(ops_client):
    make_event(currency="jpy", price=12000)
    pay("kenji@example.org", "Kenji Kato", hours_ago=2)
    Payment.objects.update(currency="jpy")
    pay("kenji@example.org", "Kenji Kato")
    Payment.objects.update(currency="jpy")
    item = ReviewItem.objects.get(kind="duplicate_payment")
    ReviewItem.objects.filter(pk=item.pk).update(
        explanation="Kenji Kato paid twice for Spring retreat within 24 hours (12,000 JPY and 12,000 JPY)."
    )

    why, facts = _card(ops_client, item, "duplicate_payment")

    assert "(12,000 JPY and 12,000 JPY)" in why, why
    assert "12,000 JPY" in facts, facts


def test_the_refund_confirmation_reads_the_card_text_the_same_way(ops_client, stripe_world):
    item = stripe_world.item("duplicate_payment")
    ReviewItem.objects.filter(pk=item.pk).update(
        explanation="Dana Double paid twice for Spring retreat within 24 hours (120.00 USD and 120.00 USD)."
    )
    payment = item.payment
    page = ops_client.post(
        reverse("ops:queue_action", args=[item.pk, "refund"]), {"payment": payment.pk, "amount": "120.00"}
    ).content.decode()

    assert "Confirm the refund" in page, page
    why = re.search(r'<p class="why">(.*?)</p>', page, re.S)[1]
    assert "($120.00 and $120.00)" in why, why


def test_a_day_in_the_text_is_read_as_the_event_day_not_moved_a_zone(ops_client):
    """The stored days are already the event's days: they are reformatted, never converted."""
    make_event(timezone="Pacific/Kiritimati")  # UTC+14: a conversion would move the day
    pay("late@example.org", "Late Payer", hours_ago=2)
    pay("late@example.org", "Late Payer")
    item = ReviewItem.objects.get(kind="duplicate_payment")
    ReviewItem.objects.filter(pk=item.pk).update(explanation="Paid on 2026-12-31.")

    why, _ = _card(ops_client, item, "duplicate_payment")

    assert why == "Paid on 31 Dec 2026.", why


def _refund(client, item, payment, amount, confirm, headers):
    return refund_post(client, item, payment, amount, headers, confirm=confirm).content.decode()


def test_what_a_refund_says_in_place_of_the_card_gives_the_amount_as_its_confirm_step(
    ops_client, stripe_world, htmx_headers
):
    item = stripe_world.item("duplicate_payment")
    step1 = _refund(ops_client, item, item.payment, "120.00", False, htmx_headers())
    assert "Refund $120.00?" in step1

    done = _refund(ops_client, item, item.payment, "120.00", True, htmx_headers())

    assert "Refunded $120.00 to Dana Double" in done, done
    assert "120.00 USD" not in done


def test_a_refund_refused_on_the_card_gives_the_amount_as_the_card_does(ops_client, stripe_world, htmx_headers):
    item = stripe_world.item("paid_cancelled")
    payment = Payment.objects.get(registration=item.registration, method="stripe")

    body = _refund(ops_client, item, payment, "120.01", False, htmx_headers())

    assert "At most $120.00 is left to refund on this payment (you asked for $120.01)" in body, body


def test_already_resolved_gives_the_day_as_the_page_does(ops_client, world, htmx_headers):
    item = world.items[ReviewItem.Kind.DISPUTE]
    act = reverse("ops:queue_action", args=[item.pk, "acknowledge"])
    ops_client.post(act, {"note": "evidence sent"}, headers=htmx_headers())

    again = ops_client.post(act, {"note": "evidence sent"}, headers=htmx_headers()).content.decode()

    assert "Already resolved (acknowledged) by olive.operator" in again
    assert not ISO_DAY.search(_plain(again.split("Already resolved", 1)[1].split("</p>", 1)[0])), again
