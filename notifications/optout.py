"""Opt-outs: per attendee, per channel, audited.

Ways in: the one-click unsubscribe link in every reminder email (``views.unsubscribe``), a spam
complaint reported by Resend, an inbound STOP text, and Twilio error 21610 on a send. Each writes
the attendee's flag and an ``attendee.opted_out`` audit row in one transaction; a repeat is a
no-op (no second audit row). Operators see the flags in the Attendee admin list filters. Each
also reaches every attendee the same person still has after a merge (``unsubscribe_targets``).

Opt-outs stop *reminders*. Mail somebody asked for (a co-host's sign-in link) is not affected.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from registrations.audit import Actor, audit
from registrations.identity import attendees_with_phone, find_attendee, normalise_phone
from registrations.models import Attendee, AuditLog

FIELDS = {"email": "email_opt_out", "sms": "sms_opt_out"}
# How far ``unsubscribe_targets`` follows merges (one person merged more times than this is not
# expected; the bound only keeps a malformed history from walking the whole table).
MAX_MERGE_STEPS = 20

log = logging.getLogger(__name__)


def set_opt_out(attendee_id: int, channel: str, opted_out: bool, *, via: str, actor: Actor | None = None) -> bool:
    """Set or clear one channel's opt-out. True when something changed."""
    field = FIELDS[channel]
    actor = actor or Actor.system(source=via)
    with transaction.atomic():
        attendee = Attendee.objects.select_for_update().filter(pk=attendee_id).first()
        if attendee is None or getattr(attendee, field) == opted_out:
            return False
        setattr(attendee, field, opted_out)
        updates = [field]
        if opted_out:
            attendee.opted_out_at = timezone.now()
            updates.append("opted_out_at")
        attendee.save(update_fields=updates)
        audit(
            "attendee.opted_out" if opted_out else "attendee.opted_in",
            actor=actor,
            obj=attendee,
            before={field: not opted_out},
            after={field: opted_out, "channel": channel, "via": via},
            message=f"{'Stopped' if opted_out else 'Resumed'} {channel} reminders ({via})",
        )
    return True


def opt_out(attendee_id: int, channel: str, *, via: str, actor: Actor | None = None) -> bool:
    return set_opt_out(attendee_id, channel, True, via=via, actor=actor)


def sms_opt_out_phone(phone: str, *, via: str, opted_out: bool = True) -> int:
    """STOP / START from a phone number. A STOP applies to every attendee the number names: those
    with that number, and the attendee one that had it was merged into (``attendees_with_phone``:
    the merged-away number is the same person's), and reaches every attendee each of them is one
    person with (``opt_out_one_person``), whose reminders may go to another number. A START
    resumes only the attendees whose number it is: Twilio lifts its own block for that number
    alone, and a stop said elsewhere still stands."""
    if opted_out:  # an attendee reached twice is stopped once: a second ``opt_out`` changes nothing
        return sum(opt_out_one_person(pk, "sms", via=via) for pk in attendees_with_phone(phone))
    e164 = normalise_phone(phone)
    ids = Attendee.objects.filter(phone=e164).order_by("pk").values_list("pk", flat=True) if e164 else []
    return sum(set_opt_out(pk, "sms", False, via=via) for pk in ids)


def opt_out_one_person(attendee_id: int, channel: str, *, via: str) -> int:
    """A stop said by ``attendee_id`` (a spam complaint, Twilio refusing a text as unsubscribed)
    holds for the whole person: that attendee and every attendee it is one person with while both
    exist (a merge's survivor, and the merged-away attendee kept for a registration at an event
    both had), as the unsubscribe link does (``unsubscribe_targets``). How many changed."""
    return sum(opt_out(a.pk, channel, via=via) for a in unsubscribe_targets(attendee_id))


def opt_out_message_recipient(message, channel: str, *, via: str) -> int:
    """A stop about one message we sent (a spam complaint about an email, Twilio refusing a text
    with 21610) holds for the person it went to (``opt_out_one_person``). A merge moves the
    merged-away attendee's messages, queued ones included, to the survivor; a reminder left
    without an attendee by a merge made before that (or one a worker was sending during the
    merge) finds the person by its recipient, as the merge left it: an email address names the
    attendee it is an alias of (or whose address it is), a phone number every attendee it names
    (as a STOP text does, merged-away numbers included). Only reminders fall back this way: other
    mail (a co-host's sign-in link, an operator digest) never named an attendee. How many changed."""
    if message.attendee_id:
        return opt_out_one_person(message.attendee_id, channel, via=via)
    from .delivery import REMINDER_KINDS

    if message.kind not in REMINDER_KINDS:
        return 0
    if channel == "sms":  # as a STOP texted from that number
        log.info("%s about message %s: its attendee is gone (merged); stopping its number", via, message.uuid)
        return sms_opt_out_phone(message.recipient, via=via)
    found = find_attendee(message.recipient)
    if found is None:
        log.info("%s about message %s: its attendee is gone and no attendee has its address", via, message.uuid)
        return 0
    log.info("%s about message %s: its attendee is gone (merged); stopping attendee %s", via, message.uuid, found.pk)
    return opt_out_one_person(found.pk, channel, via=via)


def unsubscribe_targets(attendee_id: int) -> list[Attendee]:
    """Whom an unsubscribe link made for ``attendee_id`` speaks for: that attendee (if it still
    exists), every attendee it was merged into, and every attendee merged into it that still
    exists, the link's own attendee first. Merges are followed step by step, both ways (A merged
    into B, then B into C: A's link reaches C), at most ``MAX_MERGE_STEPS`` steps, each attendee
    once.

    Emails sent before a merge carry the merged-away attendee's id. One person: a stop said
    under either address holds for the survivor, as the merge itself carries opt-outs.
    """
    ids, frontier = {attendee_id}, {attendee_id}
    for _step in range(MAX_MERGE_STEPS):
        merges = AuditLog.objects.filter(action="registration.merged")
        # Merged into: the merge row's registration follows the kept one through later merges.
        into = merges.filter(before__merged_attendee__in=list(frontier)).exclude(registration=None)
        found = set(into.values_list("registration__attendee_id", flat=True))
        # ... and every attendee merged into it that still exists: one kept for a registration at
        # an event both had (until an operator merges those two too) still gets reminders for it.
        merged_in = merges.filter(registration__attendee_id__in=list(frontier))
        found |= {pk for pk in merged_in.values_list("before__merged_attendee", flat=True) if isinstance(pk, int)}
        frontier = found - ids - {None}
        if not frontier:
            break
        ids |= frontier
    else:
        log.warning("unsubscribe for attendee %s: merges followed for %d steps, stopped", attendee_id, MAX_MERGE_STEPS)
    attendees = sorted(Attendee.objects.filter(pk__in=ids), key=lambda a: (a.pk != attendee_id, a.pk))
    if attendees:
        return attendees
    # Merged before merges recorded the attendee's id (attendees are deleted only by a merge):
    # the address it was created with is now an alias of, or belongs to, the survivor.
    created = (
        AuditLog.objects.filter(action="attendee.created", object_type="Attendee", object_id=str(attendee_id))
        .order_by("pk")
        .first()
    )
    email = (created.after or {}).get("email") if created else None
    survivor = find_attendee(email) if isinstance(email, str) and email else None
    return [survivor] if survivor else []


def registration_merged_into(registration_id: int):
    """The registration that a merged-away one (gone since) now lives on, for links already
    emailed (the status page): the merge's audit row, which follows the kept registration through
    later merges, names it. None when there is no such merge."""
    merge = (
        AuditLog.objects.filter(action="registration.merged", before__merged_registration=registration_id)
        .exclude(registration=None)
        .select_related("registration__event", "registration__attendee")
        .order_by("-pk")
        .first()
    )
    return merge.registration if merge else None
