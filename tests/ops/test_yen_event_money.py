"""An event priced in a zero-decimal currency (JPY): Stripe's amounts are already whole yen, so
¥12,000 is 12000 and must read "12,000 JPY" everywhere an operator looks (registration page,
queue card and its review explanation, CSV export), and a refund typed as 12000 must reach Stripe
as 12000, not 1,200,000. A USD event keeps its cents."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from integrations.parsing import session_to_signal
from registrations.models import Event, Payment, Registration, ReviewItem
from registrations.services import apply_payment

from .refunding import refund_post
from .scenario import book, make_event

pytestmark = pytest.mark.django_db

YEN = 12000  # ¥12,000: Stripe's amount for JPY is whole yen
YEN_PLINK = "plink_tokyo_ops"


@pytest.fixture
def yen_event(db):
    return make_event(plink=YEN_PLINK, name="Tokyo retreat", slug="tokyo-retreat", price=YEN, currency="jpy")


def pay_yen(fake_stripe, email, name):
    session = fake_stripe.add_session(
        email=email, name=name, amount=YEN, currency="jpy", payment_link=YEN_PLINK, price_id="price_tokyo"
    )
    return apply_payment(session_to_signal(session, line_items=fake_stripe.line_items[session["id"]]))


@pytest.fixture
def yen_duplicate(yen_event, fake_stripe):
    """Kenji paid twice for the yen event: a duplicate-payment item with a refundable payment."""
    pay_yen(fake_stripe, "kenji@example.org", "Kenji Kato")
    pay_yen(fake_stripe, "kenji@example.org", "Kenji Kato")
    book("kenji@example.org", "Kenji", "Kato", event=yen_event)
    return ReviewItem.objects.get(kind=ReviewItem.Kind.DUPLICATE_PAYMENT, state=ReviewItem.State.OPEN)


def test_a_yen_payment_reads_12000_yen_on_the_registration_page(ops_client, yen_event, fake_stripe):
    pay_yen(fake_stripe, "aiko@example.org", "Aiko Abe")
    reg = Registration.objects.get(attendee__email="aiko@example.org")
    page = ops_client.get(reverse("ops:registration", args=[yen_event.slug, reg.pk])).content.decode()
    assert "12,000 JPY" in page
    assert "120.00" not in page
    event_page = ops_client.get(reverse("ops:event", args=[yen_event.slug])).content.decode()
    assert "12,000 JPY a seat" in event_page and "120.00" not in event_page


def test_a_yen_duplicate_reads_12000_yen_on_its_queue_card(ops_client, yen_duplicate):
    page = ops_client.get(reverse("ops:queue")).content.decode()
    start = page.index(f'id="item-{yen_duplicate.pk}"')
    card = page[start : page.index("</article>", start)]
    assert "12,000 JPY" in card
    assert "120.00" not in card
    assert "12,000 JPY" in yen_duplicate.explanation  # the review item's own explanation
    # The refund form is pre-filled in whole yen, so submitting it as is refunds ¥12,000.
    assert 'name="amount" value="12000"' in card


def test_a_yen_refund_typed_as_12000_reaches_stripe_as_12000(ops_client, yen_duplicate, fake_stripe, htmx_headers):
    payment = yen_duplicate.payment
    step1 = refund_post(ops_client, yen_duplicate, payment, "12000", htmx_headers(), confirm=False).content.decode()
    assert "Refund 12,000 JPY?" in step1
    assert 'name="amount" value="12000"' in step1  # the confirm step re-sends whole yen
    assert fake_stripe.refunds == {}

    done = refund_post(ops_client, yen_duplicate, payment, "12000", htmx_headers()).content.decode()
    assert "Refunded 12,000 JPY to Kenji Kato" in done
    (refund,) = fake_stripe.refunds.values()
    assert refund["amount"] == 12000 and refund["currency"] == "jpy"
    payment.refresh_from_db()
    assert payment.amount_refunded == 12000


def test_a_yen_refund_with_sen_is_refused_before_stripe(ops_client, yen_duplicate, fake_stripe, htmx_headers):
    body = refund_post(ops_client, yen_duplicate, yen_duplicate.payment, "12000.50", htmx_headers())
    assert "JPY has no minor unit" in body.content.decode()
    assert fake_stripe.refunds == {}


def test_the_csv_export_of_a_yen_event_has_whole_yen(ops_client, yen_event, fake_stripe):
    pay_yen(fake_stripe, "aiko@example.org", "Aiko Abe")
    response = ops_client.get(reverse("ops:export", args=[yen_event.slug, "csv"]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    got = dict(zip(header, row, strict=True))
    assert (got["Paid"], got["Refunded"], got["Net"], got["Currency"]) == ("12000", "0", "12000", "JPY")


def test_a_yen_walk_in_of_12000_is_recorded_as_12000_yen(ops_client, yen_event):
    url = reverse("ops:walk_in", args=[yen_event.slug])
    data = {"name": "Hana Door", "email": "hana@example.org", "method": "cash", "amount": "12,000", "token": "f" * 32}
    assert ops_client.post(url, data).status_code == 302
    payment = Payment.objects.get(registration__attendee__email="hana@example.org")
    assert (payment.amount, payment.currency) == (12000, "jpy")

    data.update(email="sen@example.org", amount="12000.50", token="a" * 32)
    body = ops_client.post(url, data).content.decode()
    assert "JPY has no minor unit" in body
    assert not Registration.objects.filter(attendee__email="sen@example.org").exists()


def test_marking_paid_by_hand_at_a_yen_event_takes_whole_yen(ops_client, yen_event):
    reg = book("mika@example.org", "Mika", "Mori", event=yen_event).registration
    url = reverse("ops:mark_paid", args=[yen_event.slug, reg.pk])
    data = {"amount": "12000", "method": "cash", "reason": "paid at the desk", "token": "b" * 32}
    ops_client.post(url, data)
    payment = Payment.objects.get(registration=reg)
    assert payment.amount == 12000


def test_importing_a_yen_event_priced_12000_stores_12000(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text(
        "events:\n  - {slug: tokyo, name: Tokyo, starts_at: '2027-04-05T10:00:00+09:00', price: 12000, currency: jpy}\n"
    )
    call_command("import_events", str(path), stdout=io.StringIO())
    assert Event.objects.get(slug="tokyo").price == 12000

    path.write_text(path.read_text().replace("tokyo, name: Tokyo", "osaka, name: Osaka").replace("12000", "12000.5"))
    with pytest.raises(Exception, match="JPY has no minor unit"):
        call_command("import_events", str(path), stdout=io.StringIO())


def test_a_usd_event_still_counts_cents(ops_client, fake_stripe, htmx_headers):
    """The same pages for a dollar event: $120.00 is 12000 cents, typed as 120.00."""
    usd = make_event(plink="plink_usd_ops", atype="7770009", slug="usd-retreat")
    for _ in range(2):
        session = fake_stripe.add_session(email="dan@example.org", name="Dan Dollar", payment_link="plink_usd_ops")
        apply_payment(session_to_signal(session, line_items=fake_stripe.line_items[session["id"]]))
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.DUPLICATE_PAYMENT, state=ReviewItem.State.OPEN)
    assert "120.00 USD" in item.explanation
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert "$120.00" in page and 'name="amount" value="120.00"' in page
    done = refund_post(ops_client, item, item.payment, "120.00", htmx_headers()).content.decode()
    assert "Refunded $120.00" in done
    (refund,) = fake_stripe.refunds.values()
    assert refund["amount"] == 12000
    response = ops_client.get(reverse("ops:export", args=[usd.slug, "csv"]))
    header, row = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    got = dict(zip(header, row, strict=True))
    assert (got["Paid"], got["Refunded"], got["Currency"]) == ("240.00", "120.00", "USD")


def test_the_admin_shows_and_takes_a_yen_price_in_whole_yen(admin_client, yen_event):
    from tests.domain.test_event_settings_rederive import change_event_in_admin

    url = reverse("admin:registrations_event_change", args=[yen_event.pk])
    assert admin_client.get(url).context["adminform"].form.initial["price"] == 12000
    change_event_in_admin(admin_client, yen_event, price="15000")
    yen_event.refresh_from_db()
    assert yen_event.price == 15000
    listing = admin_client.get(reverse("admin:registrations_event_changelist")).content.decode()
    assert "15,000 JPY" in listing
    response = change_event_in_admin(admin_client, yen_event, price="15000.50")
    assert "JPY has no minor unit" in response.content.decode()
    yen_event.refresh_from_db()
    assert yen_event.price == 15000
