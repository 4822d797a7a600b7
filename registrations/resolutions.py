"""Operator resolutions of review items. Each is a domain function: one transaction, row locks,
an audit row with the operator as actor, then the affected registrations are recomputed."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .audit import Actor, audit
from .models import AuditLog, Booking, Payment, Registration, ReviewItem
from .services import learn_alias, recompute


class ResolutionError(Exception):
    """The resolution cannot be applied (already resolved, wrong kind, bad input)."""


def _lock_open_item(item_id: int, kind: str | None = None) -> ReviewItem:
    item = ReviewItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        raise ResolutionError("This review item no longer exists.")
    if item.state != ReviewItem.State.OPEN:
        raise ResolutionError("This review item was already resolved.")
    if kind and item.kind != kind:
        raise ResolutionError(f"This is a {item.get_kind_display()} item, not {kind}.")
    return item


def close_item(item: ReviewItem, resolution: str, actor: Actor, note: str = "", state=ReviewItem.State.RESOLVED):
    item.state = state
    item.resolution = resolution
    item.resolution_note = note
    item.resolved_by = actor.user if getattr(actor.user, "pk", None) else None
    item.resolved_at = timezone.now()
    item.save()
    audit(
        f"review.resolved.{resolution}",
        actor=actor,
        registration=item.registration,
        obj=item,
        event=item.event,
        after={"kind": item.kind, "key": item.key, "note": note},
    )


def merge_registrations(keep: Registration, other: Registration, actor: Actor, reason: str) -> Registration:
    """Fold ``other`` into ``keep`` (same event): its facts move, its emails become aliases of
    ``keep``'s attendee, and the emptied registration is removed (the audit trail keeps it)."""
    if keep.event_id != other.event_id:
        raise ResolutionError("Only registrations for the same event can be merged.")
    first, second = sorted([keep.pk, other.pk])
    locked = {r.pk: r for r in Registration.objects.select_for_update().filter(pk__in=[first, second])}
    keep, other = locked[keep.pk], locked[other.pk]
    before = {"kept": keep.reference, "merged": other.reference, "merged_email": other.attendee.email}
    Payment.objects.filter(registration=other).update(registration=keep)
    Booking.objects.filter(registration=other).update(registration=keep)
    AuditLog.objects.filter(registration=other).update(registration=keep)
    ReviewItem.objects.filter(registration=other).update(registration=keep)
    ReviewItem.objects.filter(counterpart=other).update(counterpart=None)
    for email in [other.attendee.email, *other.attendee.aliases.values_list("email", flat=True)]:
        learn_alias(keep.attendee, email, reason, actor, keep)
    if not keep.attendee.phone and other.attendee.phone:
        keep.attendee.phone = other.attendee.phone
        keep.attendee.save(update_fields=["phone"])
    other_attendee = other.attendee
    other.delete()
    if not other_attendee.registrations.exists():
        # The address lives on as an alias of the survivor.
        other_attendee.delete()
    audit(
        "registration.merged",
        actor=actor,
        registration=keep,
        obj=keep,
        before=before,
        after={"registration": keep.reference, "reason": reason},
    )
    recompute(keep, actor)
    return keep


def accept_suggested_match(item_id: int, actor: Actor) -> Registration:
    with transaction.atomic():
        item = _lock_open_item(item_id, ReviewItem.Kind.SUGGESTED_MATCH)
        if item.registration is None or item.counterpart is None:
            raise ResolutionError("One of the two registrations no longer exists.")
        keep, other = item.registration, item.counterpart
        close_item(item, "merged", actor)
        return merge_registrations(keep, other, actor, reason=f"merged by operator (review #{item.pk})")


def dismiss(item_id: int, actor: Actor, note: str = "") -> ReviewItem:
    """Not the same person / nothing to do: remembered, never suggested again."""
    with transaction.atomic():
        item = _lock_open_item(item_id)
        close_item(item, "dismissed", actor, note, state=ReviewItem.State.DISMISSED)
        for reg in filter(None, [item.registration, item.counterpart]):
            recompute(reg, actor, detect=False)
        return item


def acknowledge(
    item_id: int, actor: Actor, note: str, kind: str | None = None, resolution: str = "acknowledged"
) -> ReviewItem:
    """Close an item with a note (dispute acknowledged, payment kept, kept as credit…)."""
    with transaction.atomic():
        item = _lock_open_item(item_id, kind)
        close_item(item, resolution, actor, note)
        for reg in filter(None, [item.registration, item.counterpart]):
            recompute(reg, actor, detect=False)
        return item
