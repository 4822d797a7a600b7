"""The audit trail: every domain change writes one row, in the same transaction, in domain words."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from jlf.context import get_request_id

from .models import AuditLog

_pending: ContextVar[list | None] = ContextVar("audit_pending", default=None)
_SECRET_WORDS = ("password", "secret", "token", "api_key", "signature")


@dataclass(frozen=True)
class Actor:
    """Who did it: the system (with its source: webhook event id, command, schedule), an
    operator, or a co-host."""

    type: str = AuditLog.ActorType.SYSTEM
    user: object = None
    source: str = ""

    @classmethod
    def system(cls, source: str = "") -> Actor:
        return cls(AuditLog.ActorType.SYSTEM, None, source)

    @classmethod
    def operator(cls, user, source: str = "") -> Actor:
        return cls(AuditLog.ActorType.OPERATOR, user, source)

    def __str__(self):
        if self.user is not None:
            return f"{self.type}:{getattr(self.user, 'username', self.user)}"
        return f"{self.type}:{self.source}" if self.source else self.type


SYSTEM = Actor.system()


def _mask(data):
    if isinstance(data, dict):
        return {k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) else _mask(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask(v) for v in data]
    return data


def audit(
    action: str,
    *,
    actor: Actor = SYSTEM,
    registration=None,
    event=None,
    obj=None,
    before=None,
    after=None,
    message: str = "",
) -> AuditLog:
    """Write one audit row (or, inside ``batched()``, queue it for the batch's single insert)."""
    event_id = event.pk if event is not None else (registration.event_id if registration is not None else None)
    user = actor.user if getattr(actor.user, "pk", None) else None
    row = AuditLog(
        action=action,
        event_id=event_id,
        registration=registration,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        before=_mask(before),
        after=_mask(after),
        message=message,
        actor_type=actor.type,
        actor_user=user,
        actor_source=actor.source[:200],
        request_id=get_request_id(),
    )
    pending = _pending.get()
    if pending is None:
        row.save()
    else:
        pending.append(row)
    return row


@contextmanager
def batched():
    """Collect the audit rows written inside the block and insert them with one statement at its
    end — call it inside the transaction that makes the changes, so rows and changes still commit
    (or roll back) together. Nested use joins the outer batch."""
    if _pending.get() is not None:
        yield
        return
    rows: list[AuditLog] = []
    token = _pending.set(rows)
    try:
        yield
    finally:
        _pending.reset(token)
    # Only reached when the block succeeded: a failed block's transaction is rolled back anyway.
    AuditLog.objects.bulk_create(rows)
