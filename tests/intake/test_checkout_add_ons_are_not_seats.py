"""A Payment Link that sells the ticket plus add-ons (a lunch, a T-shirt, an accommodation
upgrade, a donation product): only tickets are seats. Before, every line item's quantity was
added up, so one person buying a ticket and a T-shirt was a "group of 2" with a seat link for a
friend who does not exist."""

import pytest

from integrations.parsing import session_to_signal
from registrations.audit import SYSTEM
from registrations.models import AuditLog, EventMapping, Payment, Registration, ReviewItem, SeatReference, Status
from registrations.ops.timeline import registration_timeline
from registrations.seats import issue_seat_references
from registrations.services import add_mapping, apply_payment
from tests.factories import EventFactory

from .conftest import PRICE, inbox, run_queue

pytestmark = pytest.mark.django_db

TSHIRT = "price_1SampleTshirt"
LUNCH = "price_1SampleLunch"


@pytest.fixture
def deliver(post_stripe):
    def deliver(evt):
        assert post_stripe(evt).status_code == 200
        run_queue()
        return inbox(evt["id"])

    return deliver


def add_on(fake, session, price_id, amount, quantity=1, description="T-shirt"):
    """Add a line item to the session (and its amount to what was paid)."""
    fake.line_items[session["id"]].append(
        {
            "id": f"li_{price_id}",
            "object": "item",
            "quantity": quantity,
            "amount_total": amount * quantity,
            "amount_subtotal": amount * quantity,
            "currency": "usd",
            "description": description,
            "price": {"id": price_id, "object": "price", "unit_amount": amount, "product": f"prod_{price_id}"},
        }
    )
    session["amount_total"] += amount * quantity
    session["amount_subtotal"] += amount * quantity


def group_cards():
    return ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT)


def test_a_ticket_and_a_t_shirt_marked_not_ours_is_one_seat_with_no_friend_link(deliver, fake_stripe, event, client):
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=TSHIRT, ignored=True)
    session = fake_stripe.add_session(amount=12000)
    add_on(fake_stripe, session, TSHIRT, 2500)

    deliver(fake_stripe.session_event(session))

    payment = Payment.objects.get()
    assert payment.amount == 14500  # the money is what was paid, add-on included
    assert payment.quantity == 1
    assert not group_cards().exists()
    assert not SeatReference.objects.exists()
    assert Registration.objects.get().status == Status.PAID_ONLY


def test_with_the_ticket_price_mapped_only_tickets_are_seats(deliver, fake_stripe, event):
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=PRICE, event=event)
    session = fake_stripe.add_session(amount=24000, quantity=2)
    add_on(fake_stripe, session, TSHIRT, 2500, quantity=2)  # not mapped at all
    add_on(fake_stripe, session, LUNCH, 1500, quantity=2, description="Lunch")

    deliver(fake_stripe.session_event(session))

    payment = Payment.objects.get()
    assert (payment.quantity, payment.amount) == (2, 32000)
    card = group_cards().get()
    assert card.data["seats"] == 2
    assert "2 seats" in card.explanation


def test_a_product_of_another_event_bought_on_the_same_checkout_is_not_a_seat_here(deliver, fake_stripe, event):
    other = EventFactory(slug="autumn-retreat", name="Autumn Retreat", price=9000)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value="price_1SampleAutumn", event=other)
    session = fake_stripe.add_session(amount=12000)
    add_on(fake_stripe, session, "price_1SampleAutumn", 9000, description="Autumn Retreat")

    deliver(fake_stripe.session_event(session))

    payment = Payment.objects.get()
    assert payment.event == event  # the payment link says which event
    assert payment.quantity == 1
    assert not group_cards().exists()


def test_an_accommodation_upgrade_at_the_ticket_price_is_not_read_as_a_second_seat(deliver, fake_stripe, event):
    # 240.00 at a price of 120.00 would read as two seats from the amount alone; the line items
    # say one ticket and one upgrade.
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=PRICE, event=event)
    session = fake_stripe.add_session(amount=12000)
    add_on(fake_stripe, session, "price_1SampleUpgrade", 12000, description="Private room")

    deliver(fake_stripe.session_event(session))

    payment = Payment.objects.get()
    assert (payment.quantity, payment.amount) == (1, 24000)
    assert not group_cards().exists()
    assert Registration.objects.get().status == Status.PAID_ONLY


def test_unmapped_add_ons_still_count_but_the_group_card_names_them_for_the_operator(deliver, fake_stripe, event):
    # The event is mapped by its payment link only: nothing says which product is the ticket.
    session = fake_stripe.add_session(amount=12000)
    add_on(fake_stripe, session, TSHIRT, 2500)

    deliver(fake_stripe.session_event(session))

    payment = Payment.objects.get()
    assert payment.quantity == 2
    card = group_cards().get()
    assert card.data["seats"] == 2
    assert card.data["prices"] == [[PRICE, 1], [TSHIRT, 1]]
    assert TSHIRT in card.explanation and "not ours" in card.explanation
    assert AuditLog.objects.filter(action="payment.seats_counted").exists()


def test_a_redelivery_and_a_reconciliation_of_the_session_keep_the_seat_count(deliver, fake_stripe, event):
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=TSHIRT, ignored=True)
    session = fake_stripe.add_session(amount=24000, quantity=2)
    add_on(fake_stripe, session, TSHIRT, 2500, quantity=2)
    evt = fake_stripe.session_event(session)
    deliver(evt)
    assert Payment.objects.get().quantity == 2
    audit_rows = AuditLog.objects.count()

    deliver(fake_stripe.session_event(session))  # another delivery of the same session
    # What reconciliation does: the session with its line items, through the same parser.
    result = apply_payment(session_to_signal(session, line_items=fake_stripe.line_items[session["id"]]))

    payment = Payment.objects.get()
    assert payment.quantity == 2
    assert payment.line_items == [[PRICE, 2], [TSHIRT, 2]]
    assert result.changed == []
    assert AuditLog.objects.count() == audit_rows
    assert group_cards().get().data["seats"] == 2


def test_marking_the_add_on_not_ours_afterwards_counts_the_seats_again_and_closes_the_card(deliver, fake_stripe, event):
    session = fake_stripe.add_session(amount=12000)
    add_on(fake_stripe, session, TSHIRT, 2500)
    deliver(fake_stripe.session_event(session))
    assert Payment.objects.get().quantity == 2
    assert group_cards().get().state == ReviewItem.State.OPEN

    add_mapping(EventMapping.Kind.STRIPE_PRICE, TSHIRT, None, ignored=True)

    assert Payment.objects.get().quantity == 1
    assert group_cards().get().state == ReviewItem.State.RESOLVED
    assert Registration.objects.get().status == Status.PAID_ONLY
    counted = AuditLog.objects.filter(action="payment.seats_counted").order_by("pk").last()
    assert counted.registration == Registration.objects.get()
    assert counted.before == {"seats_counted": 2} and counted.after["seats_counted"] == 1
    assert counted.after["left_out"] == [f"{TSHIRT} ×1 (marked not ours)"]


def test_mapping_the_ticket_price_afterwards_counts_only_tickets(deliver, fake_stripe, event):
    session = fake_stripe.add_session(amount=24000, quantity=2)
    add_on(fake_stripe, session, LUNCH, 1500, quantity=3, description="Lunch")
    deliver(fake_stripe.session_event(session))
    assert Payment.objects.get().quantity == 5
    assert group_cards().get().data["prices"] == [[PRICE, 2], [LUNCH, 3]]

    add_mapping(EventMapping.Kind.STRIPE_PRICE, PRICE, event)

    assert Payment.objects.get().quantity == 2
    card = group_cards().get()
    assert card.data["seats"] == 2 and "prices" not in card.data
    assert LUNCH not in card.explanation


def test_seat_links_already_handed_out_are_not_taken_back_and_the_history_says_so(deliver, fake_stripe, event):
    session = fake_stripe.add_session(amount=12000)
    add_on(fake_stripe, session, TSHIRT, 2500)
    deliver(fake_stripe.session_event(session))
    payment = Payment.objects.get()
    assert [r.seat for r in issue_seat_references(payment, SYSTEM)] == [2]  # the payer opened the group page

    add_mapping(EventMapping.Kind.STRIPE_PRICE, TSHIRT, None, ignored=True)

    assert Payment.objects.get().quantity == 2
    assert SeatReference.objects.filter(payment=payment).count() == 1
    held = AuditLog.objects.filter(action="payment.seats_counted").order_by("pk").last()
    assert held.after["seats_counted"] == 1 and held.after["seats_kept"] == 2
    assert "settle" in held.after["because"]
    history = " ".join(f"{e.title} {e.detail}" for e in registration_timeline(Registration.objects.get()))
    assert "Seats counted from the checkout" in history and "Seats kept: 2" in history


def test_a_first_page_of_line_items_is_not_stored_as_the_whole_checkout(deliver, fake_stripe, event):
    # The handoff page reads the session with its line items expanded: Stripe includes the first
    # ten only. Eleven tickets must not be stored as ten seats; the webhook's full list counts.
    session = fake_stripe.add_session(amount=12000)
    for n in range(10):
        add_on(fake_stripe, session, f"price_1SampleExtra{n}", 1000, description="Extra")
    expanded = dict(
        session, line_items={"object": "list", "data": fake_stripe.line_items[session["id"]][:10], "has_more": True}
    )
    apply_payment(session_to_signal(expanded, raw_ref="handoff"))
    assert Payment.objects.get().line_items == []

    deliver(fake_stripe.session_event(session))

    assert len(Payment.objects.get().line_items) == 11
    assert Payment.objects.get().quantity == 11
