"""The operator test world, built through the real domain functions (apply_payment /
apply_booking) and, where money must go back through Stripe, the fake Stripe server: one open
review item of each kind on the "Spring retreat".

Used by the view tests, the query-count tests and the browser test.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from integrations.parsing import session_to_signal
from registrations.models import EventMapping, Registration, ReviewItem
from registrations.services import add_mapping, apply_booking, apply_payment
from registrations.signals import BookingSignal, PaymentSignal
from tests.factories import EventFactory

PLINK = "plink_spring_ops"
ATYPE = "7770001"
PRICE = 12000
_ids = itertools.count(5000)


def make_event(plink=PLINK, atype=ATYPE, **kw):
    defaults = dict(name="Spring retreat", slug="spring-retreat", price=PRICE, capacity=40)
    defaults.update(kw)
    event = EventFactory(**defaults)
    add_mapping(EventMapping.Kind.STRIPE_PAYMENT_LINK, plink, event)
    add_mapping(EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, atype, event)
    return event


def pay(email, name="", *, amount=PRICE, quantity=1, plink=PLINK, phone="", hours_ago=0.0):
    """A Stripe payment as a signal (no fake server: for items that are never refunded)."""
    n = next(_ids)
    return apply_payment(
        PaymentSignal(
            status="paid",
            source_id=f"cs_ops_{n}",
            checkout_session_id=f"cs_ops_{n}",
            payment_intent_id=f"pi_ops_{n}",
            charge_id=f"ch_ops_{n}",
            event_keys=(("stripe_payment_link", plink),),
            email=email,
            name=name,
            phone=phone,
            amount=amount,
            currency="usd",
            quantity=quantity,
            occurred_at=timezone.now() - timedelta(hours=hours_ago),
            raw_ref=f"evt_ops_{n}",
        )
    )


def pay_via_fake(fake_stripe, email, name="", *, amount=PRICE, quantity=1, plink=PLINK):
    """A payment that exists in the fake Stripe (so it can really be refunded)."""
    session = fake_stripe.add_session(
        email=email, name=name, amount=amount, quantity=quantity, payment_link=plink, price_id="price_ops"
    )
    return apply_payment(session_to_signal(session, line_items=fake_stripe.line_items[session["id"]]))


def book(email, first="", last="", *, status="booked", source_id=None, phone="", intake=None, event=None):
    n = source_id or next(_ids)
    starts = (event.starts_at if event is not None else timezone.now() + timedelta(days=30)).replace(microsecond=0)
    return apply_booking(
        BookingSignal(
            status=status,
            source_id=str(n),
            event_keys=(("acuity_appointment_type", ATYPE),),
            email=email,
            first_name=first,
            last_name=last,
            phone=phone,
            starts_at=starts,
            timezone="America/Los_Angeles",
            appointment_type_id=ATYPE,
            intake=intake or {},
            occurred_at=timezone.now() + timedelta(seconds=1 if status == "cancelled" else 0),
            raw_ref=f"acuity:{n}:{status}",
        )
    )


def dispute(payment, *, amount=PRICE, reason="fraudulent"):
    n = next(_ids)
    return apply_payment(
        PaymentSignal(
            status="disputed",
            source_id=f"dp_ops_{n}",
            dispute_id=f"dp_ops_{n}",
            dispute_status="needs_response",
            payment_intent_id=payment.payment_intent_id,
            charge_id=payment.charge_id or "",
            amount=amount,
            currency="usd",
            reason=reason,
            occurred_at=timezone.now(),
            raw_ref=f"evt_dp_{n}",
        )
    )


@dataclass
class World:
    event: object
    items: dict = field(default_factory=dict)  # kind → ReviewItem

    def item(self, kind) -> ReviewItem:
        return ReviewItem.objects.get(pk=self.items[kind].pk)


def build_world(fake_stripe=None) -> World:
    """One open review item of each kind, plus a few ordinary registrations."""
    event = make_event()
    world = World(event=event)

    # Ordinary registrations: complete, paid-only, booked-only (with an intake answer).
    pay("calm.complete@example.org", "Calm Complete")
    book("calm.complete@example.org", "Calm", "Complete", intake={"Dietary needs": "vegan"}, event=event)
    pay("pat.paidonly@example.org", "Pat Paidonly")
    book("bo.bookedonly@example.org", "Bo", "Bookedonly", intake={"Arriving by": "train"}, event=event)

    # Same person, different emails: same phone, similar name.
    pay("river@example.org", "River Stone", phone="+14155550101")
    book("r.stone@work.example", "River", "Stone", phone="+14155550101", event=event)

    # Group payment: three seats in one payment; a friend booked without paying.
    pay("gina.group@example.org", "Gina Group", amount=3 * PRICE, quantity=3)
    book("gina.group@example.org", "Gina", "Group", event=event)
    book("fran.friend@example.org", "Fran", "Friend", event=event)

    # Duplicate payment (refundable through the fake Stripe when one is given).
    if fake_stripe is not None:
        pay_via_fake(fake_stripe, "dana.double@example.org", "Dana Double")
        pay_via_fake(fake_stripe, "dana.double@example.org", "Dana Double")
    else:
        pay("dana.double@example.org", "Dana Double", hours_ago=2)
        pay("dana.double@example.org", "Dana Double")
    book("dana.double@example.org", "Dana", "Double", event=event)

    # Paid but cancelled.
    if fake_stripe is not None:
        pay_via_fake(fake_stripe, "carl.cancel@example.org", "Carl Cancel")
    else:
        pay("carl.cancel@example.org", "Carl Cancel")
    appt = next(_ids)
    book("carl.cancel@example.org", "Carl", "Cancel", source_id=appt, event=event)
    book("carl.cancel@example.org", "Carl", "Cancel", source_id=appt, status="cancelled", event=event)

    # Dispute.
    disputed = pay("dora.dispute@example.org", "Dora Dispute").fact
    book("dora.dispute@example.org", "Dora", "Dispute", event=event)
    dispute(disputed)

    # A payment for a link nobody mapped.
    pay("una.unknown@example.org", "Una Unknown", plink="plink_nobody_mapped")

    # "Bank payment not cleared" is opened by the reminder scan after days, not by a signal: its
    # card and choices are covered in tests/notifications/test_bank_debit_not_cleared.py. "Same
    # person registered twice" is opened by a merge of two people both registered at another
    # event: tests/ops/test_merging_someone_registered_twice_elsewhere.py. "Refund failed" is opened
    # by Stripe failing a refund made in its Dashboard: tests/ops/test_a_dashboard_refund_that_fails_opens_a_card.py.
    later = {ReviewItem.Kind.PAYMENT_NOT_CLEARED, ReviewItem.Kind.SAME_PERSON_TWICE, ReviewItem.Kind.REFUND_FAILED}
    for kind in set(ReviewItem.Kind.values) - later:
        world.items[kind] = ReviewItem.objects.filter(kind=kind, state=ReviewItem.State.OPEN).order_by("pk").first()
    missing = [k for k, v in world.items.items() if v is None]
    assert not missing, f"scenario did not open: {missing}"
    return world


def bulk_registrations(event, n: int, start: int = 0):
    """``n`` plain registrations (attendee + paid payment + booking) without review items, fast:
    bulk_create, for the query-count and speed checks."""
    from registrations.models import Attendee, Booking, Payment, Status

    attendees = Attendee.objects.bulk_create(
        [Attendee(email=f"bulk{start + i}@example.org", name=f"Bulk Person {start + i}", phone="") for i in range(n)]
    )
    statuses = [Status.COMPLETE, Status.PAID_ONLY, Status.BOOKED_ONLY, Status.COMPLETE]
    regs = Registration.objects.bulk_create(
        [Registration(attendee=a, event=event, status=statuses[i % 4]) for i, a in enumerate(attendees)]
    )
    now = timezone.now()
    Payment.objects.bulk_create(
        [
            Payment(
                checkout_session_id=f"cs_bulk_{event.pk}_{start + i}",
                payment_intent_id=f"pi_bulk_{event.pk}_{start + i}",
                event=event,
                registration=r,
                state=Payment.State.PAID,
                amount=PRICE,
                currency="usd",
                quantity=1,
                email=r.attendee.email,
                occurred_at=now - timedelta(days=i % 20),
            )
            for i, r in enumerate(regs)
            if r.status != Status.BOOKED_ONLY
        ]
    )
    Booking.objects.bulk_create(
        [
            Booking(
                acuity_appointment_id=f"{event.pk}{start + i:07d}",
                event=event,
                registration=r,
                email=r.attendee.email,
                first_name="Bulk",
                starts_at=event.starts_at,
                intake={"Dietary needs": "none"},
            )
            for i, r in enumerate(regs)
            if r.status != Status.PAID_ONLY
        ]
    )
    return regs
