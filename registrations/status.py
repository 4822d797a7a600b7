"""The one pure function that says what state a registration is in. See DESIGN.md."""

from __future__ import annotations

from collections.abc import Iterable

from .models import Status


def derive_status(payments: Iterable, bookings: Iterable, open_review_count: int, donation: bool) -> str:
    """Status from facts alone; order of arrival and redeliveries cannot change it.

    ``payments`` need ``is_paid`` and ``fully_refunded``; ``bookings`` need ``cancelled``.
    """
    paid = [p for p in payments if p.is_paid]
    bookings = list(bookings)
    live_paid = [p for p in paid if not p.fully_refunded]
    booked = any(not b.cancelled for b in bookings)

    if paid and not live_paid:
        return Status.REFUNDED
    if bookings and not booked and not paid:
        return Status.CANCELLED
    if open_review_count:
        return Status.NEEDS_REVIEW
    if live_paid and booked:
        return Status.COMPLETE
    if live_paid:
        return Status.PAID_ONLY
    if booked:
        return Status.COMPLETE if donation else Status.BOOKED_ONLY
    return Status.PENDING
