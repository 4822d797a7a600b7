"""Which event and which registration a fact belongs to: mapping keys → event; our reference,
then email and learned aliases → attendee and registration.
"""

from __future__ import annotations

import logging
import re

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .audit import Actor, audit
from .engine import locked_registrations, retried_on_conflict
from .identity import find_attendee, known_emails, normalise_email
from .models import (
    Attendee,
    AttendeeAlias,
    Event,
    EventMapping,
    Payment,
    Registration,
    ReviewItem,
)

log = logging.getLogger(__name__)

REFERENCE_RE = re.compile(r"^R[A-HJ-NP-Z2-9]{16}$")


def is_reference(value: str) -> bool:
    # fullmatch: with match(), the "$" in REFERENCE_RE also accepted a trailing newline.
    return isinstance(value, str) and bool(REFERENCE_RE.fullmatch(value))


# --- Events -----------------------------------------------------------------------------------
def resolve_event(mapping_keys) -> tuple[Event | None, bool]:
    """(event, ignored) for the first mapping key that is mapped. Keys are [kind, value] pairs."""
    keys = [tuple(k) for k in mapping_keys or []]
    if not keys:
        return None, False
    q = Q()
    for kind, value in keys:
        q |= Q(kind=kind, value=str(value))
    mappings = {(m.kind, m.value): m for m in EventMapping.objects.filter(q).select_related("event")}
    # A Stripe price marked not ours is one product (an add-on sold next to the ticket), not the
    # whole checkout: with another price of it not mapped at all (the ticket of an event not set
    # up yet), the checkout is unmatched and flagged, not silently ignored.
    price = EventMapping.Kind.STRIPE_PRICE.value
    ignored = ignored_price = unmapped_price = False
    for key in keys:
        m = mappings.get((key[0], str(key[1])))
        if m is None:
            unmapped_price = unmapped_price or key[0] == price
            continue
        if m.ignored:
            if key[0] == price:
                ignored_price = True
            else:
                ignored = True
            continue
        return m.event, False
    return None, ignored or (ignored_price and not unmapped_price)


def _merge_keys(existing, new) -> list:
    merged = {tuple(map(str, k)) for k in existing or []} | {tuple(map(str, k)) for k in new or []}
    return [list(k) for k in sorted(merged)]


def _flag_unmatched(fact, actor: Actor):
    keys = [tuple(k) for k in fact.mapping_keys]
    if not keys:
        return
    kind, value = keys[0]
    label = dict(EventMapping.Kind.choices).get(kind, kind)
    item, created = ReviewItem.objects.get_or_create(
        key=f"unmatched:{kind}:{value}",
        defaults=dict(
            kind=ReviewItem.Kind.UNMATCHED_EVENT,
            explanation=(
                f"A {'payment' if isinstance(fact, Payment) else 'booking'} came in for {label} "
                f"“{value}”, which is not mapped to any event. It is kept; map it to an event "
                "(or mark it as not ours) and every stored signal for it is replayed."
            ),
            data={"mapping_kind": kind, "mapping_value": value},
        ),
    )
    if not created and item.state != ReviewItem.State.OPEN and item.resolution.startswith("auto:"):
        item.state, item.resolution, item.reopened_at = ReviewItem.State.OPEN, "", timezone.now()
        item.save(update_fields=["state", "resolution", "reopened_at"])
    if created:
        audit("review.opened", actor=actor, obj=item, after={"kind": item.kind, "key": item.key})


# --- Attendees and registrations -------------------------------------------------------------
def _get_or_create_attendee(
    email: str, name: str, phone: str, actor: Actor, attendee: Attendee | None = None, looked_up: bool = False
) -> tuple[Attendee, bool]:
    """(attendee, created): ``attendee`` when already found (fill in a missing name/phone), else
    the one for ``email`` (a learned alias first; ``looked_up`` = the caller already asked
    ``find_attendee`` and nobody had it), created if nobody has the address yet."""
    if attendee is None and not looked_up:
        attendee = find_attendee(email)
    if attendee is None:
        fields = dict(email=normalise_email(email), name=name or "", phone=phone or "")
        if retried_on_conflict():
            # Created concurrently since the lookup: the IntegrityError makes ``_retrying`` run
            # the transaction again, and that run finds theirs.
            attendee = Attendee.objects.create(**fields)
        else:
            try:
                with transaction.atomic():
                    attendee = Attendee.objects.create(**fields)
            except IntegrityError:  # created concurrently since the lookup: use theirs
                attendee = None
        if attendee is None:
            attendee = Attendee.objects.get(email=fields["email"])
        else:
            audit("attendee.created", actor=actor, obj=attendee, after={"email": attendee.email})
            return attendee, True
    updates = []
    if name and not attendee.name:
        attendee.name = name
        updates.append("name")
    if phone and not attendee.phone:
        attendee.phone = phone
        updates.append("phone")
    if updates:
        attendee.save(update_fields=updates)
    return attendee, False


def learn_alias(attendee: Attendee, email: str, reason: str, actor: Actor, registration=None) -> bool:
    """Remember that ``email`` is also ``attendee``. No-op for an address already known to anyone."""
    email = normalise_email(email)
    if not email or email in known_emails(attendee):
        return False
    if AttendeeAlias.objects.filter(email=email).exists():
        return False
    AttendeeAlias.objects.create(email=email, attendee=attendee, reason=reason[:200])
    audit(
        "attendee.alias_learned",
        actor=actor,
        registration=registration,
        obj=attendee,
        after={"alias": email, "attendee": attendee.email, "reason": reason},
    )
    return True


def _registration_for(
    event: Event, emails: list[str], reference: str, name: str, phone: str, source: str, actor: Actor
) -> Registration | None:
    """Reference beats email; then the first email that is known; else the primary email."""
    if is_reference(reference):
        reg = Registration.objects.select_related("attendee").filter(reference=reference, event=event).first()
        if reg is not None:
            for email in emails[:1]:
                # Only an address nobody has yet: learn_alias would otherwise make another
                # attendee's own address an alias (which wins over a primary in find_attendee),
                # and every later signal of that person would land on this one.
                if find_attendee(email) is None:
                    learn_alias(reg.attendee, email, f"reference {reference} match", actor, reg)
            return reg
    if not emails:
        return None
    attendee = None
    for email in emails:
        attendee = find_attendee(email)
        if attendee:
            break
    attendee, new_attendee = _get_or_create_attendee(emails[0], name, phone, actor, attendee=attendee, looked_up=True)
    if new_attendee:  # nobody can have registered an attendee created in this transaction
        reg, created = Registration.objects.create(attendee=attendee, event=event, source=source), True
    elif retried_on_conflict():
        # Locked here, with what ``recompute`` reads, so that it need not read it again; two
        # transactions creating it at once: the loser's INSERT fails and ``_retrying`` reruns it.
        reg = locked_registrations().filter(attendee=attendee, event=event).first()
        created = reg is None
        if created:
            reg = Registration.objects.create(attendee=attendee, event=event, source=source)
        else:
            reg.locked_in_transaction = True  # see ``engine.recompute``
    else:
        reg, created = Registration.objects.get_or_create(attendee=attendee, event=event, defaults={"source": source})
    if created:
        reg.new_in_transaction = True  # see ``engine.recompute(new_with=…)``
        audit(
            "registration.created",
            actor=actor,
            registration=reg,
            obj=reg,
            after={"reference": reg.reference, "source": source},
        )
    return reg
