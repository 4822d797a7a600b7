"""Who is this? Email and phone normalisation, attendee lookup and learned aliases."""

from __future__ import annotations

import difflib
import re
import unicodedata

import phonenumbers
from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery

from .models import Attendee, AttendeeAlias, AuditLog

_EMAIL_SPLIT = re.compile(r"[,;\s]+")


def normalise_email(value: str) -> str:
    return (value or "").strip().casefold()


def split_emails(value: str) -> list[str]:
    """Acuity lets a client type several addresses; the first is primary, the rest candidates."""
    seen, out = set(), []
    for part in _EMAIL_SPLIT.split(value or ""):
        email = normalise_email(part)
        if "@" in email and email not in seen:
            seen.add(email)
            out.append(email)
    return out


def normalise_phone(value: str, region: str | None = None) -> str:
    """E.164, or "" when the number cannot be understood (never raises on user input)."""
    if not value or not str(value).strip():
        return ""
    try:
        number = phonenumbers.parse(str(value), region or settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_name(value: str) -> str:
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(sorted(re.findall(r"[a-z0-9]+", text)))


NAME_SIMILARITY = 0.88


def names_similar(a: str, b: str, threshold: float = NAME_SIMILARITY) -> bool:
    """'River Stone' ~ 'stone, river' ~ 'River Stonee'; empty names are never similar."""
    return similar_to(a, threshold)(b)


def similar_to(name: str, threshold: float = NAME_SIMILARITY):
    """``names_similar(name, other)`` as a function of ``other``, for comparing one name with
    many: ``name`` is normalised and indexed once, and the cheap upper bounds of the similarity
    (lengths, then letters; both symmetric) rule most names out before the full comparison.

    The full comparison takes the two names in a fixed order: difflib's ratio can differ in the
    last digit with the order of its arguments, and a pair must get one answer whichever of the
    two registrations is being looked at (detection runs from both sides)."""
    mine = normalise_name(name)
    matcher = difflib.SequenceMatcher(None)
    matcher.set_seq2(mine)

    def similar(other: str) -> bool:
        theirs = normalise_name(other)
        if not mine or not theirs:
            return False
        if mine == theirs:
            return True
        matcher.set_seq1(theirs)
        if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
            return False
        first, second = sorted((mine, theirs))
        return difflib.SequenceMatcher(None, first, second).ratio() >= threshold

    return similar


def find_attendee(email: str) -> Attendee | None:
    """A learned alias wins over a primary address: after a merge, the alias names the survivor."""
    email = normalise_email(email)
    if not email:
        return None
    # One query for both (this runs for every new payment and booking): the attendee the alias
    # names, or the one whose primary address it is; the alias's attendee wins.
    alias_owner = AttendeeAlias.objects.filter(email=email).values("attendee_id")[:1]
    rows = list(
        Attendee.objects.filter(Q(pk=Subquery(alias_owner)) | Q(email=email)).annotate(
            via_alias=Exists(AttendeeAlias.objects.filter(attendee=OuterRef("pk"), email=email))
        )
    )
    rows.sort(key=lambda a: (not a.via_alias, a.pk))
    return rows[0] if rows else None


def known_emails(attendee: Attendee) -> set[str]:
    return {attendee.email, *attendee.aliases.values_list("email", flat=True)}


def attendees_with_phone(phone: str) -> list[int]:
    """Every attendee a phone number names: those whose number it is, and the attendee each
    attendee that had it was merged into (the merged-away attendee is deleted with its number,
    and the survivor keeps its own). The merge's audit row records the number, and its
    registration follows the kept one through later merges (A into B, then B into C: A's number
    names C). Merges recorded before the number was recorded are not found this way.

    A merge row no longer names its person once the number is someone else's: an attendee
    created after the merge has it (numbers are given to new people), or the person's data was
    purged (anonymised)."""
    e164 = normalise_phone(phone)
    if not e164:
        return []
    ids = set(Attendee.objects.filter(phone=e164).values_list("pk", flat=True))
    ids |= set(merged_phone_owners(e164))
    return sorted(ids)


def merged_phone_owners(e164: str):
    """The attendees (ids, as a queryset usable as a subquery) that merges name for the E.164
    number ``e164`` a merged-away attendee had: the ``attendees_with_phone`` rules, without
    the number's present holders. By the merge rows' ``action`` index."""
    given_since = Attendee.objects.filter(phone=e164, created_at__gt=OuterRef("created_at")).exclude(
        pk=OuterRef("registration__attendee_id")
    )
    return (
        AuditLog.objects.filter(action="registration.merged", before__merged_phone=e164)
        .exclude(registration=None)
        .filter(registration__attendee__anonymised_at__isnull=True)
        .exclude(Exists(given_since))
        .order_by()
        .values_list("registration__attendee_id", flat=True)
    )
