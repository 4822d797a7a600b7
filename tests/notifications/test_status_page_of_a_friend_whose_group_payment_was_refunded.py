"""Someone whose place was a seat of someone else's group payment never paid anything: when that
group payment is refunded in full, their registration counts as refunded too, and their status
page must not tell them "Your payment was refunded"."""

from notifications.tokens import status_token
from registrations.models import Payment, Status


def test_a_friend_whose_group_payment_was_refunded_is_not_told_their_own_payment_was(client, one_sided):
    reg = one_sided(Status.REFUNDED, name="Fern Adeyemi")
    Payment.objects.create(
        registration=reg, event=reg.event, method=Payment.Method.GROUP_SEAT, state=Payment.State.PAID, amount=0
    )
    Payment.objects.filter(registration=reg).update(refunded_with_group=True)

    page = client.get(f"/n/status/{status_token(reg.pk)}/").content.decode()

    assert "Your payment was refunded" not in page
    assert "The group payment that covered your place was refunded" in page


def test_someone_who_paid_themselves_and_was_refunded_still_reads_their_payment_was_refunded(client, one_sided):
    reg = one_sided(Status.REFUNDED)
    Payment.objects.create(
        registration=reg, event=reg.event, state=Payment.State.PAID, amount=12000, amount_refunded=12000, manual_key="m"
    )

    page = client.get(f"/n/status/{status_token(reg.pk)}/").content.decode()

    assert "Your payment was refunded" in page
