"""A second reading of the exception queue: resolutions applied twice or to items that changed
meanwhile, what they leave behind (statuses, related items, audit rows), and forged input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import AuditLog, Booking, Payment, Registration, ReviewItem, Status

from .scenario import book, pay

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"


def act(client, item, name, data=None, headers=None):
    return client.post(reverse("ops:queue_action", args=[item.pk, name]), data or {}, headers=headers or {})


def open_suggestions():
    return ReviewItem.objects.filter(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN)


def two_payers_one_booking(event):
    """Two people paid (same phone, same name) and one booked under a third address: both
    payers are suggested as the booker."""
    pay("river@example.org", "River Stone", phone=PHONE)
    pay("rivers.twin@example.org", "River Stone", phone=PHONE)
    book("r.stone@work.example", "River", "Stone", phone=PHONE, event=event)
    items = {i.registration.attendee.email: i for i in open_suggestions()}
    assert set(items) == {"river@example.org", "rivers.twin@example.org"}
    return items


def test_accepting_one_suggestion_closes_the_other_suggestion_for_the_same_booking(ops_client, event, htmx_headers):
    items = two_payers_one_booking(event)
    act(ops_client, items["river@example.org"], "accept", headers=htmx_headers())
    # The booking now belongs to River: the twin's suggestion about it has nothing left to merge.
    assert not open_suggestions().exists()
    twin = Registration.objects.get(attendee__email="rivers.twin@example.org")
    assert twin.status == Status.PAID_ONLY  # not stuck in "needs review"
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert 'id="queue-total">0<' in page


def test_accepting_a_suggestion_whose_booking_was_deleted_says_so_instead_of_already_resolved(
    ops_client, event, htmx_headers
):
    pay("river@example.org", "River Stone", phone=PHONE)
    book("r.stone@work.example", "River", "Stone", phone=PHONE, event=event)
    item = open_suggestions().get()
    Registration.objects.filter(attendee__email="r.stone@work.example").delete()  # e.g. deleted in the admin
    body = act(ops_client, item, "accept", headers=htmx_headers()).content.decode()
    assert "Already resolved" not in body
    assert "no longer exists" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
    # Dismissing it still works.
    act(ops_client, item, "dismiss", headers=htmx_headers())
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.DISMISSED


def test_two_operators_marking_the_same_booking_paid_record_one_payment(ops_client, event, htmx_headers):
    book("bo@example.org", "Bo", "Booked", event=event)
    reg = Registration.objects.get(attendee__email="bo@example.org")
    url = reverse("ops:mark_paid", args=[event.slug, reg.pk])
    # Each operator opened the registration before either saved: two forms, two tokens.
    first = {"amount": "120", "method": "cash", "reason": "paid cash at the office", "token": "a" * 32}
    second = {"amount": "120", "method": "cash", "reason": "cash at the door", "token": "b" * 32}
    ops_client.post(url, first, headers=htmx_headers())
    body = ops_client.post(url, second, headers=htmx_headers()).content.decode()
    assert Payment.objects.filter(registration=reg).count() == 1
    assert "already paid" in body
    assert AuditLog.objects.filter(action="registration.marked_paid").count() == 1


def test_two_operators_marking_the_same_payment_booked_record_one_booking(ops_client, event, htmx_headers):
    pay("pat@example.org", "Pat Paid")
    reg = Registration.objects.get(attendee__email="pat@example.org")
    url = reverse("ops:mark_booked", args=[event.slug, reg.pk])
    ops_client.post(url, {"reason": "booked by phone", "token": "c" * 32}, headers=htmx_headers())
    body = ops_client.post(url, {"reason": "booked at the desk", "token": "d" * 32}, headers=htmx_headers())
    assert Booking.objects.filter(registration=reg).count() == 1
    assert "already booked" in body.content.decode()
    assert AuditLog.objects.filter(action="registration.marked_booked").count() == 1


def duplicate_item():
    pay("dana@example.org", "Dana Double", hours_ago=2)
    pay("dana@example.org", "Dana Double")
    return ReviewItem.objects.get(kind=ReviewItem.Kind.DUPLICATE_PAYMENT, state=ReviewItem.State.OPEN)


def test_a_note_too_long_to_keep_is_refused_instead_of_closing_the_item_without_it(ops_client, event, htmx_headers):
    item = duplicate_item()
    body = act(ops_client, item, "keep", {"note": "second seat " * 100}, htmx_headers()).content.decode()
    assert "1,000 characters" in body
    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN  # not closed with the operator's reason dropped
    assert not AuditLog.objects.filter(action="review.resolved.kept").exists()


def test_a_dispute_note_with_line_breaks_within_the_boxs_limit_is_kept(ops_client, event, htmx_headers):
    from .scenario import dispute

    dispute(pay("dora@example.org", "Dora Dispute").fact)
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.DISPUTE)
    # The browser's maxlength counts a line break as one character but sends it as CR LF.
    note = "\r\n".join(["evidence sent in Stripe, receipts attached" + "." * 57] * 10)
    assert len(note.replace("\r\n", "\n")) <= 1000 < len(note)
    body = act(ops_client, item, "acknowledge", {"note": note}, htmx_headers()).content.decode()
    assert "Dispute acknowledged" in body
    item.refresh_from_db()
    assert item.state == ReviewItem.State.RESOLVED
    assert item.resolution_note == note.replace("\r\n", "\n")
