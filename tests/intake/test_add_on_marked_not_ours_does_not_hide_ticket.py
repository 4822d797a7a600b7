"""Marking an add-on's price "not ours" (as docs/setup-stripe-acuity.md asks for a T-shirt sold on
a ticket's link) must not make the whole checkout "not ours": a ticket bought on a link not
mapped yet has to reach the operator as an unmatched payment to map, not vanish."""

import pytest

from registrations.models import EventMapping, Payment, ReviewItem

from .test_checkout_add_ons_are_not_seats import TSHIRT, add_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(post_stripe):
    from .conftest import inbox, run_queue

    def deliver(evt):
        assert post_stripe(evt).status_code == 200
        run_queue()
        return inbox(evt["id"])

    return deliver


def test_a_ticket_on_an_unmapped_link_with_an_add_on_marked_not_ours_is_flagged_unmatched(deliver, fake_stripe):
    # The T-shirt was marked not ours while setting up another event's link; this new event's
    # link and ticket price are not mapped yet.
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=TSHIRT, ignored=True)
    session = fake_stripe.add_session(amount=12000)
    add_on(fake_stripe, session, TSHIRT, 2500)

    deliver(fake_stripe.session_event(session))

    payment = Payment.objects.get()
    assert payment.event_id is None
    # The operator is asked to map it (and its replay then attaches it), as for any unmatched payment.
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.UNMATCHED_EVENT, state=ReviewItem.State.OPEN).exists()


def test_a_checkout_of_only_products_marked_not_ours_stays_ignored(deliver, fake_stripe):
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value="plink_x", ignored=True)
    session = fake_stripe.add_session(amount=12000, payment_link="plink_x")

    deliver(fake_stripe.session_event(session))

    assert not ReviewItem.objects.filter(kind=ReviewItem.Kind.UNMATCHED_EVENT).exists()
