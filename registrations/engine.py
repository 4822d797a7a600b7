"""The apply machinery shared by payments and bookings: the result type, the retrying
transaction, batched audit rows, and ``recompute`` (facts → review items → derived status).
"""

from __future__ import annotations

import logging
import random
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Exists, OuterRef, prefetch_related_objects
from django.utils import timezone

from .audit import SYSTEM, Actor, audit
from .audit import batched as audit_batched
from .detection import FALLEN_REFUND, detect_review_items, open_review_count
from .models import (
    Dispute,
    Refund,
    Registration,
)
from .status import derive_status

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class ApplyResult:
    """What a signal changed. ``created`` = a fact we had never seen; ``changed`` = fields of an
    existing fact that moved; neither = a redelivery (no-op)."""

    fact: object = None
    registration: Registration | None = None
    created: bool = False
    changed: list = field(default_factory=list)
    status_before: str = ""
    status_after: str = ""
    unmatched_event: bool = False

    @property
    def noop(self):
        return not self.created and not self.changed


_in_retrying: ContextVar[bool] = ContextVar("in_retrying", default=False)


def retried_on_conflict() -> bool:
    """True inside ``_retrying``: an INSERT that loses a race on a unique key may just raise, and
    the whole transaction runs again (no savepoint of its own needed, which saves two round trips)."""
    return _in_retrying.get()


def _retrying(fn, attempts: int = 6):
    """Run ``fn`` in a transaction; a lost race on a unique key or a deadlock just runs it again."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                token = _in_retrying.set(True)
                try:
                    return fn()
                finally:
                    _in_retrying.reset(token)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts - 1:
                raise
            log.info("retrying after %s (attempt %d)", type(exc).__name__, attempt + 1)
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")


def _batched(fn):
    """Run ``fn`` with its audit rows written in one insert at the end (same transaction)."""
    with audit_batched():
        return fn()


# --- Recompute ---------------------------------------------------------------------------------
def locked_registrations():
    """Registrations read to be recomputed: only the registration's own row is locked (its event's
    and attendee's rows are shared by many registrations, and locking them would make those wait
    for each other), with the event and attendee ``recompute`` reads."""
    return Registration.objects.select_for_update(of=("self",)).select_related("event", "attendee")


def recompute(
    registration: Registration, actor: Actor = SYSTEM, detect: bool = True, new_with: tuple | None = None
) -> str:
    """Lock the registration, refresh review items from facts, and store the derived status.

    ``new_with=(payments, bookings)``: ``registration`` was created in this transaction (with
    its event and attendee loaded) and these are all its facts, none of them disputed and none with
    a refund that failed (``has_fallen_refunds``, set by ``payments._refresh_adjustments``). Nobody
    else can see the row before the commit, so it is neither locked nor read again, and it has no
    review items yet: the four queries that would say so are skipped, and the rules are the same.
    """
    # The marks ``matching._registration_for`` leaves hold for this transaction only: used once.
    locked = registration.__dict__.pop("locked_in_transaction", False)
    registration.__dict__.pop("new_in_transaction", None)
    if new_with is not None and not any(p.disputed or getattr(p, "has_fallen_refunds", False) for p in new_with[0]):
        reg = registration
        payments, bookings = list(new_with[0]), list(new_with[1])
        for p in payments:
            p._prefetched_objects_cache = {"disputes": Dispute.objects.none()}
        items: dict | None = {}
    else:
        if locked:
            reg = registration  # already locked and read in this transaction (``_registration_for``)
        else:
            reg = locked_registrations().get(pk=registration.pk)
        # Disputes are rare: the payments query says which payments have any, and only those are
        # prefetched (the others get an empty prefetch instead of a second query). Refunds that
        # failed are rarer still: the same query says which payments have one (``detection``).
        payments = list(
            reg.payments.annotate(
                has_disputes=Exists(Dispute.objects.filter(payment=OuterRef("pk"))),
                has_fallen_refunds=Exists(
                    Refund.objects.filter(payment=OuterRef("pk"), cumulative=False, status__in=FALLEN_REFUND)
                ),
            )
        )
        prefetch_related_objects([p for p in payments if p.has_disputes], "disputes")
        for p in payments:
            if not p.has_disputes:
                p._prefetched_objects_cache = {"disputes": Dispute.objects.none()}
        bookings = list(reg.bookings.all())
        items = None
    if detect:
        touched, open_items = detect_review_items(reg, actor, payments, bookings, items)
    else:
        touched, open_items = set(), open_review_count(reg)
    status = derive_status(payments, bookings, open_items, reg.event.is_donation)
    if status != reg.status:
        before = reg.status
        reg.status = status
        reg.status_changed_at = timezone.now()
        reg.save(update_fields=["status", "status_changed_at", "updated_at"])
        audit(
            "registration.status_changed",
            actor=actor,
            registration=reg,
            obj=reg,
            before={"status": before},
            after={"status": status},
        )
    registration.status = reg.status
    for other_pk in sorted(touched - {reg.pk}):
        other = Registration.objects.filter(pk=other_pk).first()
        if other is not None:
            recompute(other, actor, detect=False)
    return status
