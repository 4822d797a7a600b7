"""The apply machinery shared by payments and bookings: the result type, the retrying
transaction, batched audit rows, and ``recompute`` (facts → review items → derived status).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from .audit import SYSTEM, Actor, audit
from .audit import batched as audit_batched
from .detection import detect_review_items, open_review_count
from .models import (
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


def _retrying(fn, attempts: int = 6):
    """Run ``fn`` in a transaction; a lost race on a unique key or a deadlock just runs it again."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return fn()
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
def recompute(registration: Registration, actor: Actor = SYSTEM, detect: bool = True) -> str:
    """Lock the registration, refresh review items from facts, and store the derived status."""
    reg = Registration.objects.select_for_update().select_related("event", "attendee").get(pk=registration.pk)
    payments = list(reg.payments.prefetch_related("disputes"))
    bookings = list(reg.bookings.all())
    touched = detect_review_items(reg, actor, payments, bookings) if detect else set()
    status = derive_status(payments, bookings, open_review_count(reg), reg.event.is_donation)
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
