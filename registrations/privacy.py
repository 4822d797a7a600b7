"""Anonymising the attendees of past events, keeping the money and who did what when.

``plan_purge(events)`` works out what would change; ``purge(plan, actor=…)`` does it in one
transaction and writes one ``personal_data.purged`` audit row (ids and counts, including the
audit rows redacted; never the data).

What changes, for attendees whose registrations are *all* on the events being purged:

* Attendee: email → ``anon-<id>@invalid``, name and phone blanked, ``anonymised_at`` set,
  learned aliases deleted;
* their Payments and Bookings on those events, and unmatched ones (no registration) on those
  events: payer/client email, name, phone, other emails and intake answers blanked, and the rows
  marked (``personal_data_removed_at``) so that no later observation of them (a provider's
  redelivery, a replay, a reconciliation or backfill) fills them in again;
* review items on those events: the attendee's addresses, name and phone in the explanation,
  resolution note and data (a match's reasons) are replaced; so are they in the registrations'
  manual paid/booked reasons, in payment and booking notes (a seat's "… by <payer>", a reason
  typed by an operator) and in group payments' seat assignments (a blanked payment's seat list
  keeps only seat → registration);
* the audit trail (``AuditLog`` ``before``, ``after`` and ``message``: the registration's
  history and the admin's audit log): in every row of theirs (their registrations on those
  events, their attendee, their payments and bookings) the same strings are replaced as in
  review items; in any other row (an operator's note, another attendee's card) their addresses,
  aliases, phone and full name are, unless another attendee has them too (a family's phone, a
  namesake: whose they are cannot be told there). Addresses become ``anon-<id>@invalid``, the rest
  ``[removed]``; aliases are collected before they are deleted. Each row keeps its action,
  time, actor, registration, object and request ids, and every other value (amounts,
  statuses, references, ids), so the money trail and who did what when stay;
* other apps scrub their own copies through the ``personal_data_purged`` signal (sent inside the
  same transaction; a receiver returns ``{label: count}`` for the summary).

What stays: registrations and statuses, amounts, currencies, quantities, refunds, disputes,
provider ids and references, opt-out flags, and every audit row (what was done, when, by whom,
to which ids and amounts) with only the personal data above replaced.

A second run changes nothing (no one is left to anonymise, so nothing is replaced); the audit
row it writes says so with zero counts.

An attendee who is also registered for an event outside the purge (an upcoming one, or a past
one not named) is left untouched: anonymising them would erase that registration's contact too.

``redact_earlier_purges`` (``manage.py redact_purged_audit``, run by the release step) gives the
attendees anonymised by purges that did not yet redact the audit trail the same audit redaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat, Lower, Trim
from django.dispatch import Signal
from django.utils import timezone

from .audit import Actor, audit
from .models import Attendee, AttendeeAlias, AuditLog, Booking, Event, Payment, Registration, ReviewItem

ACTION = "personal_data.purged"
REMOVED = "[removed]"

# Sent inside purge()'s transaction with: attendee_ids, registration_ids, payment_ids,
# booking_ids, event_ids, replacements ({attendee id: {"old": [strings], "whole": [strings],
# "new": anon email}}).
# Receivers scrub their own copies and return {label: count} for the summary.
personal_data_purged = Signal()


class PurgeRefused(Exception):
    """The request cannot be carried out as asked; nothing was changed."""


def anonymous_email(attendee_id: int) -> str:
    return f"anon-{attendee_id}@invalid"


def event_end(event: Event):
    return event.ends_at or event.starts_at


def past_events():
    """Events that are over (``ends_at``, or ``starts_at`` when there is no end)."""
    return Event.objects.annotate(end=Coalesce("ends_at", "starts_at")).filter(end__lt=timezone.now())


def events_by_slugs(slugs: list[str]) -> list[Event]:
    found = {e.slug: e for e in Event.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise PurgeRefused(f"No event with slug {', '.join(unknown)}. Nothing was changed.")
    now = timezone.now()
    not_over = [found[s] for s in dict.fromkeys(slugs) if event_end(found[s]) >= now]
    if not_over:
        names = "; ".join(f"{e.slug} (ends {event_end(e):%Y-%m-%d %H:%M %Z})" for e in not_over)
        raise PurgeRefused(
            f"Refusing: personal data is only purged after an event is over, and these are not: {names}. "
            "Nothing was changed."
        )
    return [found[s] for s in dict.fromkeys(slugs)]


def events_older_than(cutoff) -> list[Event]:
    return list(past_events().filter(end__lt=cutoff).order_by("end"))


@dataclass
class PurgePlan:
    events: list[Event]
    attendee_ids: list[int] = field(default_factory=list)  # to anonymise now
    already_anonymised_ids: list[int] = field(default_factory=list)
    kept: dict[int, list[str]] = field(default_factory=dict)  # attendee id → other events' slugs
    registration_ids: list[int] = field(default_factory=list)
    payment_ids: list[int] = field(default_factory=list)
    booking_ids: list[int] = field(default_factory=list)
    alias_count: int = 0
    review_item_ids: list[int] = field(default_factory=list)

    @property
    def event_ids(self):
        return [e.pk for e in self.events]


def plan_purge(events: list[Event]) -> PurgePlan:
    plan = PurgePlan(events=list(events))
    event_ids = plan.event_ids
    in_scope = set(Registration.objects.filter(event_id__in=event_ids).values_list("attendee_id", flat=True))
    elsewhere = (
        Registration.objects.filter(attendee_id__in=in_scope)
        .exclude(event_id__in=event_ids)
        .values_list("attendee_id", "event__slug")
        .order_by("attendee_id", "event__starts_at")
    )
    for attendee_id, slug in elsewhere:
        plan.kept.setdefault(attendee_id, []).append(slug)
    purged = in_scope - set(plan.kept)
    anonymised = set(Attendee.objects.filter(pk__in=purged, anonymised_at__isnull=False).values_list("pk", flat=True))
    plan.attendee_ids = sorted(purged - anonymised)
    plan.already_anonymised_ids = sorted(anonymised)
    plan.registration_ids = sorted(
        Registration.objects.filter(event_id__in=event_ids, attendee_id__in=purged).values_list("pk", flat=True)
    )
    facts = Q(registration_id__in=plan.registration_ids) | Q(event_id__in=event_ids, registration__isnull=True)
    plan.payment_ids = sorted(Payment.objects.filter(facts).values_list("pk", flat=True))
    plan.booking_ids = sorted(Booking.objects.filter(facts).values_list("pk", flat=True))
    plan.alias_count = AttendeeAlias.objects.filter(attendee_id__in=plan.attendee_ids).count()
    plan.review_item_ids = sorted(
        ReviewItem.objects.filter(
            Q(registration_id__in=plan.registration_ids)
            | Q(counterpart_id__in=plan.registration_ids)
            | Q(event_id__in=event_ids, registration__isnull=True)
        ).values_list("pk", flat=True)
    )
    return plan


def _replacements(attendee_ids) -> dict[int, dict]:
    """What identified each attendee (addresses, full name and each part of it of 3+ letters,
    phone), longest first so an address is replaced before a name inside it; ``whole``: the same
    without the parts of the name (what identifies them in a text that is not theirs)."""
    out = {}
    aliases = {}
    for attendee_id, email in AttendeeAlias.objects.filter(attendee_id__in=attendee_ids).values_list(
        "attendee_id", "email"
    ):
        aliases.setdefault(attendee_id, []).append(email)
    for attendee in Attendee.objects.filter(pk__in=attendee_ids):
        out[attendee.pk] = _replacement(
            attendee.pk, attendee.name, attendee.email, *aliases.get(attendee.pk, []), attendee.phone
        )
    return out


def _replacement(attendee_id: int, name: str, *identifiers: str) -> dict:
    """One attendee's entry of ``_replacements``: ``identifiers`` are their addresses and phone
    numbers."""
    name = name.strip()
    whole = {*identifiers, name}
    old = {*whole, *name.split()}
    old = sorted((s for s in old if s and len(s) >= 3), key=len, reverse=True)
    whole = [s for s in old if s in whole]
    return {"old": old, "whole": whole, "new": anonymous_email(attendee_id)}


# An address is replaced only where it stands whole: not the end of a longer one
# ("other.river@example.org" is not "river@example.org"), nor the start of one ("….org.uk").
_ADDRESS_BEFORE = r"(?<![\w.+'-])"
_ADDRESS_AFTER = r"(?![\w-])(?!\.\w)"


def scrub_text(text: str, replacements: dict[int, dict]) -> str:
    for rep in replacements.values():
        for old in rep["old"]:
            if "@" in old:
                new, pattern = rep["new"], rf"{_ADDRESS_BEFORE}{re.escape(old)}{_ADDRESS_AFTER}"
            else:
                new, pattern = REMOVED, rf"(?<!\w){re.escape(old)}(?!\w)"
            text = re.sub(pattern, new, text, flags=re.IGNORECASE)
    return text


def scrub_data(value, replacements: dict[int, dict]):
    """``scrub_text`` on every string inside a JSON value (dicts, lists)."""
    if isinstance(value, str):
        return scrub_text(value, replacements)
    if isinstance(value, list):
        return [scrub_data(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: scrub_data(v, replacements) for k, v in value.items()}
    return value


# How audit text is cut into words to find the rows naming a purged attendee: the same
# separators in PostgreSQL (below) and in Python (``_needles``). Dots stay inside words (addresses).
_SEPARATORS = r"""[\s"<>(),;:\[\]{}]+"""
_FIND_NAMED = f"""
    SELECT DISTINCT a.id, rtrim(t.word, '.')
    FROM {AuditLog._meta.db_table} a
    CROSS JOIN LATERAL regexp_split_to_table(
        lower(concat_ws(' ', a.message, a.before::text, a.after::text)), %s
    ) AS t(word)
    WHERE rtrim(t.word, '.') = ANY(%s::text[]) AND a.action <> %s
"""
AUDIT_BATCH = 2000


def _needles(replacements: dict[int, dict]) -> dict[str, set[int]]:
    """word → attendee ids: an address, a phone number, or the longest word of a full name (a
    text holding the name holds that word; the rows found are then checked for the whole string)."""
    found: dict[str, set[int]] = {}
    for attendee_id, rep in replacements.items():
        for s in rep["whole"]:
            words = [w.lower().rstrip(".") for w in ([s] if "@" in s else re.split(_SEPARATORS, s))]
            word = max(words, key=len, default="")
            if word:
                found.setdefault(word, set()).add(attendee_id)
    return found


def _redact_audit(plan: PurgePlan, replacements: dict[int, dict], *, write: bool) -> int:
    """Replace the purged attendees' addresses (aliases included), names and phone numbers inside
    the audit rows, as everywhere else. Action, time, actor, ids, amounts and statuses stay.

    Rows *of* a purged attendee (their registrations on the purged events, their attendee, their
    payments and bookings) are scrubbed of everything ``_replacements`` lists, parts of the name
    included. Any other row (an operator's note, another attendee's card) only of the whole
    strings (``whole``: addresses, phone, full name) found in it: "River" alone in someone
    else's row is not them, nor is a string another attendee also has (``_also_someone_elses``).
    An attendee left alone has no replacements, so their rows keep their own data. Finding the
    rows is one query over the audit table (its text split into words, compared with the
    looked-for words); the rows are then read and written in batches."""
    if not replacements:
        return 0
    owner_of_reg = dict(
        Registration.objects.filter(pk__in=plan.registration_ids, attendee_id__in=list(replacements)).values_list(
            "pk", "attendee_id"
        )
    )
    owned = {("Attendee", str(pk)): pk for pk in replacements}
    for model, ids in ((Payment, plan.payment_ids), (Booking, plan.booking_ids)):
        facts = model.objects.filter(pk__in=ids, registration_id__in=list(owner_of_reg))
        for pk, reg_id in facts.values_list("pk", "registration_id"):
            owned[(model.__name__, str(pk))] = owner_of_reg[reg_id]
    ofs = Q(registration_id__in=list(owner_of_reg))
    for model in ("Attendee", "Payment", "Booking"):
        ids = [object_id for (kind, object_id) in owned if kind == model]
        if ids:
            ofs |= Q(object_type=model, object_id__in=ids)
    rows_of = AuditLog.objects.filter(ofs).exclude(action=ACTION)
    full: dict[int, set[int]] = {}  # row id → attendees whose every string is replaced in it
    for pk, reg_id, kind, object_id in rows_of.values_list("pk", "registration_id", "object_type", "object_id"):
        owners = full.setdefault(pk, set())
        if reg_id in owner_of_reg:
            owners.add(owner_of_reg[reg_id])
        if (kind, object_id) in owned:
            owners.add(owned[(kind, object_id)])
    named: dict[int, set[int]] = {}  # row id → attendees a word of whose whole strings is in it
    needles = _needles(replacements)
    for pk, word in _rows_naming(needles):
        named.setdefault(pk, set()).update(needles.get(word, ()))
    shared = _also_someone_elses(replacements)
    strict = {
        a: {"old": [s for s in rep["whole"] if s.lower() not in shared], "new": rep["new"]}
        for a, rep in replacements.items()
    }
    ids = sorted(set(full) | set(named))
    redacted = 0
    for start in range(0, len(ids), AUDIT_BATCH):
        changed = []
        batch = AuditLog.objects.filter(pk__in=ids[start : start + AUDIT_BATCH]).only(
            "pk", "before", "after", "message"
        )
        for row in batch.select_for_update() if write else batch:
            reps = {a: strict[a] for a in named.get(row.pk, ()) if a not in full.get(row.pk, ())}
            reps.update({a: replacements[a] for a in full.get(row.pk, ())})
            new = (scrub_data(row.before, reps), scrub_data(row.after, reps), scrub_text(row.message, reps))
            if new != (row.before, row.after, row.message):
                row.before, row.after, row.message = new
                changed.append(row)
        redacted += len(changed)
        if write and changed:
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(_WRITE_REDACTED, _columns(changed))
            else:
                AuditLog.objects.bulk_update(changed, ["before", "after", "message"])
    return redacted


def _rows_naming(needles: dict[str, set[int]]):
    """(audit row id, word) for every word of ``needles`` found in a row's text (message, before
    and after), outside the purge's own rows. PostgreSQL splits the text in one query; elsewhere
    (SQLite, the laptop default, with a laptop's data) the rows are read and split here, with the
    same separators and the same JSON text (``jsonb::text`` keeps non-ASCII letters as they are)."""
    if not needles:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_FIND_NAMED, [_SEPARATORS, sorted(needles), ACTION])
            return cursor.fetchall()
    split = re.compile(_SEPARATORS)
    found = set()
    rows = AuditLog.objects.exclude(action=ACTION).values_list("pk", "message", "before", "after")
    for pk, message, before, after in rows.iterator():
        parts = [message] + [json.dumps(v, ensure_ascii=False) for v in (before, after) if v is not None]
        for word in split.split(" ".join(p for p in parts if p is not None).lower()):
            if word.rstrip(".") in needles:
                found.add((pk, word.rstrip(".")))
    return sorted(found)


def _also_someone_elses(replacements: dict[int, dict]) -> set[str]:
    """Whole strings (lowercased) that are also the address, phone or name of an attendee who is
    not anonymised (a family's phone, a namesake, an address a merge left on both): in a row that
    is not the purged attendee's, whose they are cannot be told, so they stay as written."""
    wholes = {s.lower() for rep in replacements.values() for s in rep["whole"]}
    if not wholes:
        return set()
    others = (
        Attendee.objects.exclude(pk__in=list(replacements))
        .filter(anonymised_at__isnull=True)
        .annotate(lower_email=Lower("email"), lower_name=Lower(Trim("name")))
        .filter(Q(lower_email__in=wholes) | Q(phone__in=wholes) | Q(lower_name__in=wholes))
    )
    found = set()
    for row in others.values_list("lower_email", "phone", "lower_name"):
        found.update(x.lower() for x in row if x and x.lower() in wholes)
    return found


# One statement per batch (Django's bulk_update builds a CASE per row and column: slow at 10,000s).
_WRITE_REDACTED = f"""
    UPDATE {AuditLog._meta.db_table} a
    SET before = v.before::jsonb, after = v.after::jsonb, message = v.message
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS v(id, before, after, message)
    WHERE a.id = v.id
"""


def _columns(rows: list[AuditLog]) -> list[list]:
    def as_json(value):  # None stays SQL NULL, as the JSONField stores it
        return None if value is None else json.dumps(value)

    return [
        [r.pk for r in rows],
        [as_json(r.before) for r in rows],
        [as_json(r.after) for r in rows],
        [r.message for r in rows],
    ]


def _scrub_fact_copies(plan: PurgePlan, replacements: dict[int, dict], now) -> None:
    """Group payments keep each seat holder's address in ``seat_assignments`` and seat payments
    the payer's address in ``note``, also on a seat whose holder is not purged: scrub both on
    every payment of the purged events. The seat → registration link stays (it is not personal)."""
    payments = (
        Payment.objects.select_for_update()
        .filter(Q(pk__in=plan.payment_ids) | Q(event_id__in=plan.event_ids))
        .exclude(note="", seat_assignments=[])
    )
    for pk, note, seats in payments.values_list("pk", "note", "seat_assignments"):
        new_note = scrub_text(note or "", replacements)
        new_seats = seats
        if pk in plan.payment_ids and isinstance(seats, list):
            # This payment's own contact details are blanked: so are its seat holders' addresses.
            new_seats = [{k: v for k, v in s.items() if k != "email"} if isinstance(s, dict) else s for s in seats]
        new_seats = scrub_data(new_seats, replacements)
        if (new_note, new_seats) != (note, seats):
            Payment.objects.filter(pk=pk).update(note=new_note, seat_assignments=new_seats, updated_at=now)
    # A booking marked by hand keeps the operator's reason as its note.
    bookings = Booking.objects.select_for_update().filter(Q(pk__in=plan.booking_ids) | Q(event_id__in=plan.event_ids))
    for pk, note in bookings.exclude(note="").values_list("pk", "note"):
        new_note = scrub_text(note, replacements)
        if new_note != note:
            Booking.objects.filter(pk=pk).update(note=new_note, updated_at=now)


def _blanked(model) -> dict:
    """``model.PERSONAL_FIELDS`` (the fields a purge blanks and no later observation fills again),
    each set to its empty default."""
    return {f: model._meta.get_field(f).get_default() for f in model.PERSONAL_FIELDS}


def purge(plan: PurgePlan, *, actor: Actor, dry_run: bool = False) -> dict:
    """Carry out ``plan``. Returns the counts (what would change, for a dry run)."""
    counts = {
        "events": len(plan.events),
        "attendees_anonymised": len(plan.attendee_ids),
        "attendees_already_anonymised": len(plan.already_anonymised_ids),
        "attendees_kept": len(plan.kept),
        "payments_blanked": len(plan.payment_ids),
        "bookings_blanked": len(plan.booking_ids),
        "aliases_deleted": plan.alias_count,
        "review_items_scrubbed": len(plan.review_item_ids),
    }
    if dry_run:
        counts["audit_rows_redacted"] = _redact_audit(plan, _replacements(plan.attendee_ids), write=False)
        return counts
    now = timezone.now()
    with transaction.atomic():
        # Collected before the aliases are deleted: an address learned earlier is still theirs.
        replacements = _replacements(plan.attendee_ids)
        counts["audit_rows_redacted"] = _redact_audit(plan, replacements, write=True)
        for item in ReviewItem.objects.select_for_update().filter(pk__in=plan.review_item_ids):
            explanation = scrub_text(item.explanation, replacements)
            note = scrub_text(item.resolution_note, replacements)
            data = scrub_data(item.data, replacements)  # e.g. a match's reasons: the phone, both names
            if (explanation, note, data) != (item.explanation, item.resolution_note, item.data):
                ReviewItem.objects.filter(pk=item.pk).update(explanation=explanation, resolution_note=note, data=data)
        manual = Registration.objects.filter(pk__in=plan.registration_ids).exclude(
            manual_paid_reason="", manual_booked_reason=""
        )
        for reg_pk, paid_reason, booked_reason in manual.values_list(
            "pk", "manual_paid_reason", "manual_booked_reason"
        ):
            new = (scrub_text(paid_reason, replacements), scrub_text(booked_reason, replacements))
            if new != (paid_reason, booked_reason):
                Registration.objects.filter(pk=reg_pk).update(manual_paid_reason=new[0], manual_booked_reason=new[1])
        _scrub_fact_copies(plan, replacements, now)
        AttendeeAlias.objects.filter(attendee_id__in=plan.attendee_ids).delete()
        # One statement: ``anonymous_email`` spelled in SQL.
        Attendee.objects.filter(pk__in=plan.attendee_ids).update(
            email=Concat(Value("anon-"), Cast("pk", CharField()), Value("@invalid")),
            name="",
            phone="",
            anonymised_at=now,
        )
        # Marked, so that a redelivery, a replay or a reconciliation never fills them in again.
        for model, ids in ((Payment, plan.payment_ids), (Booking, plan.booking_ids)):
            model.objects.filter(pk__in=ids).update(**_blanked(model), personal_data_removed_at=now, updated_at=now)
        responses = personal_data_purged.send(
            sender=Attendee,
            attendee_ids=plan.attendee_ids,
            registration_ids=plan.registration_ids,
            payment_ids=plan.payment_ids,
            booking_ids=plan.booking_ids,
            event_ids=plan.event_ids,
            replacements=replacements,
        )
        for _receiver, extra in responses:
            for label, number in (extra or {}).items():
                counts[label] = counts.get(label, 0) + number
        row = audit(
            ACTION,
            actor=actor,
            event=plan.events[0] if len(plan.events) == 1 else None,
            after={
                "events": [e.slug for e in plan.events],
                "counts": counts,
                "kept_attendee_ids": sorted(plan.kept),
            },
            message=(
                f"Personal data of {len(plan.attendee_ids)} attendees of {len(plan.events)} past "
                f"event(s) anonymised, also in {counts['audit_rows_redacted']} audit rows; amounts, ids "
                "and who did what when kept."
            ),
        )
    counts["audit_id"] = row.pk
    return counts


# --- Purges made before the audit trail was redacted --------------------------------------------
# Until the audit redaction above existed, a purge anonymised the attendee, their payments and
# bookings, but left their addresses and phone number in the audit rows. ``redact_earlier_purges``
# runs the same redaction (``_redact_audit``) for every attendee already anonymised. What
# identified them is gone from their attendee row and their aliases, so it is read back from the
# audit rows written while they were known, and only where a row says whose it is:
AUDIT_REDACTED = "personal_data.audit_redacted"
_ANONYMOUS = re.compile(r"anon-\d+@invalid", re.IGNORECASE)
# The message ``resolutions.merge_registrations`` writes: "<merged> (<email, phone>) merged into
# <kept> (<the survivor's email, phone>): <reason>".
_MERGED_INTO = re.compile(r"^\S+ \([^()]*\) merged into \S+ \((?P<kept>[^()]*)\)")


def _left_in_audit(attendee_ids) -> dict[int, dict]:
    """``_replacements`` for attendees already anonymised, from what their audit rows still hold:

    * addresses: ``attendee.created`` of their attendee (the address it was created with),
      ``attendee.alias_learned`` of their attendee (the alias, and their address then), and a
      ``registration.merged`` that merged one of theirs away while they stayed (``merged_email``
      of ``merged_attendee`` = them);
    * phone numbers: that merge's ``merged_phone``, and the survivor's number in the message of a
      merge into a registration of theirs, taken only when the address beside it is one of the
      above (the survivor was them, or someone merged into them);
    * names: none. No audit row holds an attendee's name as a value of its own (only inside
      text: a card's explanation, an operator's reason), so a name is not found again.

    An address that is now another attendee's alias is left out: whose it is cannot be told (a
    merge moved it to a survivor who is not purged). One that is another attendee's own address
    or phone number is replaced only in rows of the purged attendee, as ``_redact_audit`` does
    for every purge. Values already anonymised (``anon-<id>@invalid``, ``[removed]``) are not
    looked for again, so attendees whose rows are clean have no entry."""
    keys = {str(pk): pk for pk in attendee_ids}
    addresses: dict[int, set[str]] = {}
    aliases: dict[int, set[str]] = {}
    phones: dict[int, set[str]] = {}
    own = AuditLog.objects.filter(
        action__in=("attendee.created", "attendee.alias_learned"), object_type="Attendee", object_id__in=list(keys)
    )
    for action, object_id, after in own.values_list("action", "object_id", "after").iterator():
        after = after if isinstance(after, dict) else {}
        who = keys[object_id]
        if action == "attendee.created":
            addresses.setdefault(who, set()).add(after.get("email"))
        else:
            addresses.setdefault(who, set()).add(after.get("attendee"))
            aliases.setdefault(who, set()).add(after.get("alias"))
    merges = AuditLog.objects.filter(action="registration.merged")
    for before in merges.filter(before__merged_attendee__in=list(keys.values())).values_list("before", flat=True):
        who = before["merged_attendee"]
        addresses.setdefault(who, set()).add(before.get("merged_email"))
        phones.setdefault(who, set()).add(before.get("merged_phone"))
    theirs = merges.filter(registration__attendee_id__in=list(keys.values()))
    for who, message in theirs.values_list("registration__attendee_id", "message").iterator():
        kept = _MERGED_INTO.match(message or "")
        if kept is None:
            continue
        parts = [p.strip() for p in kept["kept"].split(",")]
        known = addresses.get(who, set()) | aliases.get(who, set())
        if any("@" in p and p in known for p in parts):
            phones.setdefault(who, set()).update(p for p in parts if "@" not in p)
    taken = set(
        AttendeeAlias.objects.filter(email__in=[a for found in aliases.values() for a in found if isinstance(a, str)])
        .exclude(attendee_id__in=list(keys.values()))
        .values_list("email", flat=True)
    )
    out = {}
    for who in sorted(set(addresses) | set(aliases) | set(phones)):
        found = addresses.get(who, set()) | (aliases.get(who, set()) - taken) | phones.get(who, set())
        found = {s for s in found if isinstance(s, str) and s and s != REMOVED and not _ANONYMOUS.fullmatch(s)}
        if found:
            out[who] = _replacement(who, "", *found)
    return out


def redact_earlier_purges(*, actor: Actor, dry_run: bool = False) -> dict:
    """The audit redaction of ``purge`` for attendees anonymised before it existed: their rows
    (their registrations, their attendee, the payments and bookings of their registrations) and
    any other row naming them, by the same ``_redact_audit``. Counts: ``attendees`` (with
    something of theirs still in the audit trail), ``audit_rows_redacted``. A second run finds
    nothing (what it looks for is replaced) and writes nothing; a real run that changed rows
    writes one ``personal_data.audit_redacted`` row (ids and counts only)."""
    anonymised = Attendee.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True)
    replacements = _left_in_audit(list(anonymised))
    plan = PurgePlan(events=[])
    plan.registration_ids = sorted(
        Registration.objects.filter(attendee_id__in=list(replacements)).values_list("pk", flat=True)
    )
    for model, ids in ((Payment, plan.payment_ids), (Booking, plan.booking_ids)):
        ids.extend(sorted(model.objects.filter(registration_id__in=plan.registration_ids).values_list("pk", flat=True)))
    counts = {"attendees": len(replacements)}
    if dry_run:
        counts["audit_rows_redacted"] = _redact_audit(plan, replacements, write=False)
        return counts
    with transaction.atomic():
        counts["audit_rows_redacted"] = _redact_audit(plan, replacements, write=True)
        if counts["audit_rows_redacted"]:
            row = audit(
                AUDIT_REDACTED,
                actor=actor,
                after={"attendee_ids": sorted(replacements), "counts": counts},
                message=(
                    f"Audit rows of {len(replacements)} attendees purged earlier redacted: "
                    f"{counts['audit_rows_redacted']} rows."
                ),
            )
            counts["audit_id"] = row.pk
    return counts
