"""Reconciliation counts a checkout's seats as webhooks do (same parser, same apply path): an
add-on bought with the ticket is not a seat, and a second run changes nothing."""

from integrations.parsing import session_to_signal
from registrations.models import EventMapping, Payment, ReviewItem
from registrations.services import apply_payment

from .conftest import run_command

TSHIRT = "price_1SampleTshirt"


def add_t_shirt(stripe, session):
    stripe.line_items[session["id"]].append(
        {
            "id": "li_tshirt",
            "object": "item",
            "quantity": 1,
            "amount_total": 2500,
            "amount_subtotal": 2500,
            "currency": "usd",
            "description": "T-shirt",
            "price": {"id": TSHIRT, "object": "price", "unit_amount": 2500, "product": "prod_tshirt"},
        }
    )
    session["amount_total"] += 2500


def test_a_missed_checkout_with_a_t_shirt_marked_not_ours_is_one_seat_and_stays_so(event, providers):
    stripe, _ = providers
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=TSHIRT, ignored=True)
    session = stripe.add_session(amount=12000)
    add_t_shirt(stripe, session)

    run_command("--since", "3d")
    second = run_command("--since", "3d")

    payment = Payment.objects.get()
    assert (payment.quantity, payment.amount) == (1, 14500)
    assert not ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT).exists()
    assert second.counts(provider="stripe") == {"seen": 1, "known": 1, "new": 0, "changed": 0, "errors": 0}


def test_a_payment_stored_without_its_line_items_gets_its_seats_from_reconciliation(event, providers):
    stripe, _ = providers
    session = stripe.add_session(amount=36000, quantity=3)
    add_t_shirt(stripe, session)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=TSHIRT, ignored=True)
    apply_payment(session_to_signal(session))  # as a webhook whose line items were not fetched
    assert Payment.objects.get().quantity is None

    run_command("--since", "3d")

    assert Payment.objects.get().quantity == 3
    assert ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT).data["seats"] == 3


def test_a_payment_the_handoff_saw_only_a_first_page_of_gets_all_its_line_items_from_reconciliation(event, providers):
    stripe, _ = providers
    session = stripe.add_session(amount=12000)
    for n in range(10):
        stripe.line_items[session["id"]].append(
            {"id": f"li_{n}", "object": "item", "quantity": 1, "price": {"id": f"price_1SampleExtra{n}"}}
        )
    first_page = {"object": "list", "data": stripe.line_items[session["id"]][:10], "has_more": True}
    apply_payment(session_to_signal(dict(session, line_items=first_page), raw_ref="handoff"))
    assert Payment.objects.get().line_items == []
    # The fake's list answers hold every item; without them the run must fetch the line items of
    # this stored payment, as it does for a real first page (``has_more``).
    stripe.expand_line_items_in_lists = False

    run_command("--since", "3d")

    assert len(Payment.objects.get().line_items) == 11
    assert Payment.objects.get().quantity == 11
