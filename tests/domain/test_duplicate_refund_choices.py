"""Which payments a duplicate-payment card offers to refund ("the second payment", and "the first
payment" when giving that one back is safe)."""

import pytest

from registrations.models import ReviewItem
from registrations.resolutions import refundable_payments
from registrations.services import apply_payment

from .builders import paid

pytestmark = pytest.mark.django_db


def test_the_first_payment_is_not_offered_when_it_is_a_group_payment_or_the_second_of_another_card(event):
    """A group payment (it also pays friends' seats) is never offered as 'the first payment' of
    a duplicate; and of three payments in a day (A, B, C), C's card offers only C, because B is
    the second payment of its own open card: refunding B from C's card closed C's card while A
    and C still stood, with nothing open about them."""
    apply_payment(paid("g1", "gail@example.org", name="Gail Group", amount=36000, quantity=3))
    apply_payment(paid("g2", "gail@example.org", name="Gail Group", hours=2))
    (gail,) = ReviewItem.objects.filter(
        kind=ReviewItem.Kind.DUPLICATE_PAYMENT, registration__attendee__email="gail@example.org"
    )
    assert [p.checkout_session_id for p in refundable_payments(gail)] == ["cs_g2"]

    for n, hours in (("a", 0), ("b", 2), ("c", 4)):
        apply_payment(paid(n, "tess@example.org", name="Tess Thrice", hours=hours))
    cards = {
        i.payment.checkout_session_id: i
        for i in ReviewItem.objects.filter(
            kind=ReviewItem.Kind.DUPLICATE_PAYMENT, registration__attendee__email="tess@example.org"
        )
    }
    assert set(cards) == {"cs_b", "cs_c"}
    assert [p.checkout_session_id for p in refundable_payments(cards["cs_c"])] == ["cs_c"]
    assert [p.checkout_session_id for p in refundable_payments(cards["cs_b"])] == ["cs_b", "cs_a"]
