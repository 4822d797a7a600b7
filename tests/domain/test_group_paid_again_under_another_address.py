"""Pat's group bank debit failed after friends booked with its seat links, and Pat paid again for
as many seats under another address: a second registration. Once the operator says they are one
person (the suggested match accepted, the registrations merged), Pat's new payment is Pat's, and
it must pay for the friends' seats as it does when Pat pays again under the first address: the
friends must not stay unpaid (and be reminded to pay) after the merge."""

import pytest

from registrations.audit import Actor
from registrations.models import Payment, ReviewItem, Status
from registrations.resolutions import merge_registrations
from registrations.services import apply_payment

from .test_group_paid_again_after_failing import (
    ALEX,
    PAYER,
    SAM,
    again,
    debit,
    reg_of,
    second_group,
    setup_debit_and_friends,
)

pytestmark = pytest.mark.django_db

OTHER_ADDRESS = "pat.p@example.net"


def test_friends_are_paid_once_the_payers_new_payment_under_another_address_is_merged_into_the_payer(event):
    setup_debit_and_friends()
    apply_payment(debit("failed"))
    apply_payment(again(quantity=3, status="paid", email=OTHER_ADDRESS))
    assert reg_of(SAM).status == Status.BOOKED_ONLY  # someone else's payment, for all we know

    merge_registrations(reg_of(PAYER), reg_of(OTHER_ADDRESS), Actor.system("test"), reason="same person")

    new = second_group()
    assert new.registration == reg_of(PAYER)
    for email, seat in ((SAM, 2), (ALEX, 3)):
        reg = reg_of(email)
        seat_payment = reg.payments.get()
        assert seat_payment.manual_key == f"seat:{new.pk}:{seat}", email
        assert seat_payment.state == Payment.State.PAID
        assert reg.status == Status.COMPLETE, email
    assert not ReviewItem.objects.filter(registration=reg_of(SAM), state=ReviewItem.State.OPEN).exists()
