"""Searching one event's registrations by what an operator or co-host knows of a person: a
name, an address (the current one, or one they used before a merge: a learned alias), a phone
number (typed any way people write it; stored as E.164; or the number a merged-away attendee
had, which the merge's audit row keeps), or a reference.

A row found only through an earlier address or number says so: ``earlier_email`` /
``earlier_phone`` are set on it (``search_hint`` words them).

Bounded like the rest of the table's search: the earlier address is looked up per registration
of the event through the alias table's attendee index, the earlier number through the merge
rows' action index; both are subqueries of the one table query (no query per row).
"""

from __future__ import annotations

import re

from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value, When

from .identity import merged_phone_owners, normalise_email, normalise_phone
from .models import AttendeeAlias

_PHONE_LIKE = re.compile(r"[\d\s().+\-/]+")


def search_phone(text: str) -> str:
    """The E.164 number ``text`` is, if it looks like nothing but a phone number: national
    ("(415) 555-0199"), international ("+1 415 555 0199", "011 …") or with a 00 prefix
    ("0044 7700 900123"); "" otherwise."""
    if not _PHONE_LIKE.fullmatch(text) or not re.search(r"\d", text):
        return ""
    phone = normalise_phone(text)
    digits = re.sub(r"\D", "", text)
    if not phone and digits.startswith("00"):
        phone = normalise_phone("+" + digits[2:])
    return phone


def search_registrations(qs: QuerySet, text: str) -> QuerySet:
    """``qs`` (registrations) narrowed to those ``text`` finds, annotated with why a row matched
    when it was only through an earlier address or number."""
    text = (text or "").strip()
    if not text:
        return qs
    direct = Q(attendee__name__icontains=text) | Q(attendee__email__icontains=text) | Q(reference__iexact=text)
    phone = search_phone(text)
    if phone:
        direct |= Q(attendee__phone=phone)
    # Any 4+ digits of a number, when only a number was typed (the digits of "river1990@…" are
    # not a phone number).
    digits = re.sub(r"\D", "", text) if _PHONE_LIKE.fullmatch(text) else ""
    if len(digits) >= 4:
        direct |= Q(attendee__phone__contains=digits)
    # A national number with its trunk 0 ("07700 900123") or a 00 prefix is stored without it.
    national = digits.lstrip("0")
    if national != digits and len(national) >= 6:
        direct |= Q(attendee__phone__contains=national)

    # Found through an earlier address or number: the row's ``earlier_email`` / ``earlier_phone``
    # (None when the current name, address, number or reference matches as well).
    nothing = Value(None, output_field=CharField())
    found, annotations = direct, {}
    fragment = normalise_email(text)
    if not any(c.isspace() for c in fragment) and not _PHONE_LIKE.fullmatch(fragment):
        # Aliases are stored normalised (trimmed, case-folded), as ``fragment`` is.
        aliases = AttendeeAlias.objects.filter(attendee=OuterRef("attendee_id"), email__contains=fragment)
        found |= Exists(aliases)
        first = Subquery(aliases.order_by("email").values("email")[:1])
        annotations["earlier_email"] = Case(When(direct, then=nothing), default=first, output_field=CharField())
    if phone:
        owners = Q(attendee_id__in=merged_phone_owners(phone))
        found |= owners
        annotations["earlier_phone"] = Case(
            When(direct, then=nothing), When(owners, then=Value(phone)), default=nothing, output_field=CharField()
        )
    return qs.filter(found).annotate(**annotations)


# The export column holding ``search_hint`` (the operators' export and the co-host CSV).
SEARCH_HINT_COLUMN = "Found by search"


def search_hint(reg) -> str:
    """Why a row was found, when it was not by its current name, address or number."""
    if getattr(reg, "earlier_email", None):
        return f"matched an earlier address: {reg.earlier_email}"
    if getattr(reg, "earlier_phone", None):
        return f"matched an earlier phone number: {reg.earlier_phone}"
    return ""
