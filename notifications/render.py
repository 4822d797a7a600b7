"""Reminder wording: the event's own templates when set, the defaults otherwise.

Templates use Django's template language in a sandbox: a private ``Engine`` with the built-in
tags and filters only (no ``{% load %}`` libraries, no ``{% include %}``/``{% extends %}``, since
it has no loaders) and a context of plain strings, never model instances, so an operator's
template cannot reach anything but the variables below:

    first_name, name, event_name, event_date, event_location, missing ("booking"/"payment"),
    action ("book your place"/"complete your payment"), link, status_url, unsubscribe_url,
    reference, reminder_number, signature, seats, seat_failed, donation

``seats`` is set ("3") only in a payment reminder to someone whose group payment (several seats in
one payment) failed: the default wording then asks them to choose that many seats on the payment
page, as the "didn't go through" page does (a Payment Link's address cannot set the quantity).
``seat_failed`` is set ("yes") only in a payment reminder to someone who booked with a seat link
of someone else's group payment that then failed: the default wording says so, and to check with
whoever paid for them before paying for their own place (the payer is asked to pay again).
``donation`` is set ("yes") for a donation-based event: a booking reminder thanks them for their
donation, not for "your payment".

A missing value renders as "" (use ``{{ first_name|default:"there" }}``). An event template that
does not compile or fails to render falls back to the default wording, and the problem is
reported (``Rendered.errors``) so the admin preview shows it before anything is sent.

The text message is counted as Twilio bills it (``sms_segments``): GSM-7, where € [ ] { } ^ ~ \\ |
take two characters, or UCS-2 as soon as one character is outside GSM-7 (a Cyrillic or Greek
name or title, most accented letters, emoji), 70 characters a segment instead of 160. Titles and
names are shortened only as far as that saves a segment; the link is never cut. An event's own
SMS wording longer than ``SMS_SEGMENTS_MAX`` segments is refused when the event is saved
(``sms_wording_problem``, from ``Event.clean``), and gives way to the default wording if an
attendee's name or link still makes it longer.

The email HTML, default or the event's own (a fragment or a whole page), always leaves as a whole
document (``html_document``): doctype, ``<html lang>``, and a ``<head>`` declaring
``<meta charset="utf-8">`` (what the email is sent in), a viewport and a title (the subject).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import formats
from django.utils.html import escape

from .links import link_for
from .policy import event_zone

TEMPLATE_DIR = Path(__file__).parent / "templates" / "notifications" / "reminder"
SUBJECT_MAX = 200

ACTIONS = {"booking": "book your place", "payment": "complete your payment"}


@dataclass
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""
    sms: str = ""
    errors: list[str] = field(default_factory=list)
    context: dict = field(default_factory=dict)


@cache
def _engine(autoescape: bool) -> Engine:
    return Engine(dirs=[], app_dirs=False, autoescape=autoescape, libraries={}, loaders=[])


@cache
def default_source(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text()


def _render(source: str, context: dict, *, autoescape: bool) -> str:
    return _engine(autoescape).from_string(source).render(Context(context, autoescape=autoescape))


def _render_with_fallback(label: str, custom: str, default_name: str, context: dict, autoescape: bool, errors):
    if custom and custom.strip():
        try:
            return _render(custom, context, autoescape=autoescape)
        except TemplateSyntaxError as exc:
            errors.append(f"{label}: {exc} (the default wording was used)")
        except Exception as exc:  # a filter raising on odd input must not stop a reminder
            errors.append(f"{label}: {type(exc).__name__}: {exc} (the default wording was used)")
    return _render(default_source(default_name), context, autoescape=autoescape)


# One non-GSM character switches a whole text to UCS-2: 70 characters a segment instead of 160.
# Typographic punctuation (what Word, macOS and phones type for ' " - ...) has plain equivalents.
SMS_PLAIN = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u2026": "...", "\u2022": "-", "\u00b7": "-",
        "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\ufe0e": "", "\ufe0f": "",
    }
)  # fmt: skip
# Twilio splits a text into segments past 160 GSM-7 characters (153 a segment once split) or 70
# UCS-2 ones (67); a single character outside GSM-7 makes the whole text UCS-2
# (../shared/INTEGRATIONS.md §5; twilio.com/docs/glossary/what-sms-character-limit).
SMS_SEGMENTS_WANTED = 2  # what the titles and names in a text are shortened towards, when it can get there
# At most this many segments for an event's own wording. Twilio recommends at most 320 characters
# a text: 5 segments once a name or a title makes it UCS-2. Longer wording is refused when the
# event is saved (``sms_wording_problem``); wording that an attendee's values make longer still is
# replaced by the default wording, never cut (the link is at the end).
SMS_SEGMENTS_MAX = 5
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: GSM-7 as well, but each is sent as escape + character, so counts as two.
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def clean_sms(text: str) -> str:
    # Non-breaking and other exotic spaces, curly quotes and dashes force UCS-2 encoding, which
    # more than halves the characters per segment; use the plain characters and collapse all
    # whitespace to single spaces. Never cut here: the link is at the end of the text.
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").translate(SMS_PLAIN)).strip()


def sms_value(value: str) -> str:
    """An event title or a name as put into a text message: plain punctuation, and no emoji or
    other pictographs (one would make the whole text UCS-2, about three times the segments)."""
    value = (value or "").translate(SMS_PLAIN)
    value = "".join(ch for ch in value if unicodedata.category(ch) != "So" and not 0x1F3FB <= ord(ch) <= 0x1F3FF)
    return re.sub(r"\s+", " ", value).strip()


def shorten(value: str, limit: int) -> str:
    """``value`` cut to at most ``limit`` characters at a word boundary, marked with "..."."""
    if len(value) <= limit:
        return value
    cut = value[: max(limit - 3, 1)]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-&") + "..."


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text)


def non_gsm7(text: str) -> list[str]:
    """The characters of ``text`` that make it UCS-2, each once, in order."""
    return list(dict.fromkeys(ch for ch in text if ch not in _GSM7_BASIC and ch not in _GSM7_EXTENSION))


def sms_encoding(text: str) -> str:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _sms_units(text: str, gsm7: bool) -> list[int]:
    """The size of each character as sent: GSM-7 septets (an extension character is two) or
    UTF-16 code units (an emoji beyond the Basic Multilingual Plane is two)."""
    if gsm7:
        return [2 if ch in _GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def sms_length(text: str) -> int:
    """``text``'s length as Twilio counts it against a segment (see ``_sms_units``)."""
    return sum(_sms_units(text, is_gsm7(text)))


def sms_segments(text: str) -> int:
    """How many billable segments Twilio will split ``text`` into: GSM-7 160 in one, 153 a
    segment once split; UCS-2 70 and 67. A character that takes two (an escape pair, a surrogate
    pair) is never split across two segments."""
    gsm7 = is_gsm7(text)
    single, multi = (160, 153) if gsm7 else (70, 67)
    units = _sms_units(text, gsm7)
    if sum(units) <= single:
        return 1 if text else 0
    segments, used = 1, 0
    for size in units:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return segments


def first_name_of(name: str) -> str:
    parts = (name or "").split()
    return parts[0] if parts else ""


def zone_name(local) -> str:
    """The zone of an aware local time as people write it: "CEST", "PDT"; "UTC-03" for a zone
    whose abbreviation is only an offset (the tz database writes "-03")."""
    name = local.tzname() or ""
    return name if name.isalpha() else f"UTC{name}"


def format_event_date(event) -> str:
    """The event's start in its own time zone, with the zone named ("…, 10:00 AM CEST"): an
    attendee elsewhere, or travelling, must not read it as their own local time."""
    if not event.starts_at:
        return ""
    local = event.starts_at.astimezone(event_zone(event))
    return f"{formats.date_format(local, 'l j F Y, g:i A')} {zone_name(local)}"


def failed_group_seats(registration) -> str:
    """The seat count ("3") of this attendee's latest failed group payment, "" when there is none
    (or the event takes donations): what a payment reminder asks them to choose when paying again."""
    from registrations.models import Payment

    if registration.pk is None or registration.event.is_donation:  # the admin preview's sample has no facts
        return ""
    seats = (
        registration.payments.filter(method=Payment.Method.STRIPE, state=Payment.State.FAILED, quantity__gte=2)
        .order_by("-occurred_at", "-pk")
        .values_list("quantity", flat=True)
        .first()
    )
    return str(seats) if seats else ""


def _seat_failed(registration) -> bool:
    from .policy import group_seat_failed

    return registration.pk is not None and group_seat_failed(registration)  # the preview's sample has no facts


def reminder_context(
    registration, missing: str, number: int = 1, *, status_url: str = "", unsubscribe_url: str = ""
) -> dict:
    event, attendee = registration.event, registration.attendee
    return {
        "first_name": first_name_of(attendee.name),
        "name": attendee.name or "",
        "event_name": event.name or "",
        "event_date": format_event_date(event),
        "event_location": event.location or "",
        "missing": missing,
        "action": ACTIONS.get(missing, ""),
        "link": link_for(registration, missing),
        "status_url": status_url,
        "unsubscribe_url": unsubscribe_url,
        "reference": registration.reference or "",
        "reminder_number": str(number),
        "signature": getattr(settings, "NOTIFICATIONS_SIGNATURE", "") or "See you soon,\nThe JLF team",
        "seats": failed_group_seats(registration) if missing == "payment" else "",
        "seat_failed": "yes" if missing == "payment" and _seat_failed(registration) else "",
        "donation": "yes" if event.is_donation else "",
    }


def _with_unsubscribe(text: str, html: str, url: str) -> tuple[str, str]:
    """Every reminder email shows an unsubscribe link: an event's own wording that leaves out
    ``{{ unsubscribe_url }}`` gets the default footer line (the List-Unsubscribe header alone is
    shown only by some mail apps)."""
    if not url:
        return text, html
    if url not in text:
        text = f"{text.rstrip()}\n\n--\nDon't want these reminders? Unsubscribe: {url}\n"
    if html.strip() and escape(url) not in html and url not in html:
        footer = (
            '<p style="margin:16px 0 0 0;font-size:12px;color:#666;">Don\'t want these reminders? '
            f'<a href="{escape(url)}">Unsubscribe</a>.</p>'
        )
        at = html.lower().rfind("</body>")
        html = f"{html[:at]}{footer}\n{html[at:]}" if at >= 0 else f"{html.rstrip()}\n{footer}"
    return text, html


_DOCTYPE = re.compile(r"^\s*<!doctype\b[^>]*>\s*", re.I)
_HTML_OPEN = re.compile(r"<html\b[^>]*>", re.I)
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.I)
_BODY_OPEN = re.compile(r"<body\b", re.I)
# <meta charset="…"> and <meta http-equiv="Content-Type" content="text/html; charset=…">: the
# email is always sent as UTF-8, so any other declaration would be wrong (and two would conflict).
_CHARSET_META = re.compile(r"<meta\b[^>]*\bcharset\s*=[^>]*>\s*", re.I)
_VIEWPORT_META = re.compile(r"<meta\b[^>]*\bname\s*=\s*[\"']?viewport\b", re.I)
_TITLE = re.compile(r"<title\b", re.I)
_LANG = re.compile(r"\blang\s*=", re.I)


def html_document(html: str, title: str) -> str:
    """``html`` as a whole HTML document declaring its character set.

    A fragment (an event's own ``<p>Hi {{ first_name }}</p>``) is put inside ``<body>``; a page
    without a ``<head>`` gets one; an existing head keeps its own title, viewport and styles and
    only gains what it lacks. Any other charset declaration is replaced by UTF-8 (the encoding
    the email is sent in), so a mail app shows "Zoë", not "ZoÃ«"."""
    lang = escape(settings.LANGUAGE_CODE or "en")
    doc = _DOCTYPE.sub("", html, count=1).strip()
    if not _HTML_OPEN.search(doc):
        if not _BODY_OPEN.search(doc):
            doc = f"<body>\n{doc}\n</body>"
        doc = f'<html lang="{lang}">\n{doc}\n</html>'
    opening = _HTML_OPEN.search(doc)
    if not _LANG.search(opening.group(0)):
        doc = f'{doc[: opening.end() - 1]} lang="{lang}">{doc[opening.end() :]}'
        opening = _HTML_OPEN.search(doc)
    if not _HEAD_OPEN.search(doc):
        doc = f"{doc[: opening.end()]}\n<head>\n</head>{doc[opening.end() :]}"
    doc = _CHARSET_META.sub("", doc)
    head = _HEAD_OPEN.search(doc)
    added = ['<meta charset="utf-8">']
    if not _VIEWPORT_META.search(doc):
        added.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    if not _TITLE.search(doc):
        added.append(f"<title>{escape(title)}</title>")
    doc = f"{doc[: head.end()]}\n" + "\n".join(added) + doc[head.end() :]
    return f"<!doctype html>\n{doc}"


SMS_SHORTENED = (("event_name", 24), ("event_location", 0), ("name", 20), ("first_name", 12))


def _render_sms(custom: str, ctx: dict, errors: list[str], *, fallback: bool = True) -> str:
    """The text message, within ``SMS_SEGMENTS_WANTED`` segments when the wording allows: the
    event title, location and names are made plain (no emoji, curly quotes) and, when the text is
    still too long, shortened (never the link, never the operator's own wording) — but only as far
    as it saves a segment: a text in UCS-2 (a Cyrillic title, say) whose link and wording alone
    take 4 segments keeps as much of its title as 4 segments hold. The event's own wording that
    would still take more than ``SMS_SEGMENTS_MAX`` segments gives way to the default wording."""
    sms_ctx = {**ctx, **{key: sms_value(ctx.get(key, "")) for key, _ in SMS_SHORTENED}}
    first_errors: list[str] = []
    sms = clean_sms(_render_with_fallback("SMS text", custom, "sms.txt", sms_ctx, False, first_errors))
    errors.extend(first_errors)
    # The event's own wording, which compiled: it gives way to the default wording when it cannot be sent.
    own_wording = fallback and bool(custom and custom.strip()) and not first_errors
    if own_wording and not sms:
        # A text with no words (a value it shows is empty here, or all of it sits in an {% if %}).
        errors.append("SMS text: the wording came out empty (the default wording was used)")
        return _render_sms("", ctx, [])

    def render(values: dict) -> str:
        return clean_sms(_render_with_fallback("SMS text", custom, "sms.txt", values, False, []))

    wanted = SMS_SEGMENTS_WANTED
    if sms_segments(sms) > wanted:  # shorten no further than the values at their shortest would
        shortest = {**sms_ctx, **{key: shorten(sms_ctx[key], floor) if floor else "" for key, floor in SMS_SHORTENED}}
        wanted = max(wanted, sms_segments(render(shortest)))
    for key, floor in SMS_SHORTENED:
        while sms_segments(sms) > wanted and len(sms_ctx[key]) > floor:
            limit = max(floor, len(sms_ctx[key]) - max(sms_segments(sms) - wanted, 1) * 20)
            sms_ctx[key] = shorten(sms_ctx[key], limit) if limit else ""
            sms = render(sms_ctx)
    if own_wording and sms_segments(sms) > SMS_SEGMENTS_MAX:
        errors.append(f"SMS text: the wording {sms_too_long(sms)} (the default wording was used)")
        return _render_sms("", ctx, [])
    return sms


def sms_size(text: str) -> str:
    """What a text costs, in an operator's words: "2 SMS segments (233 characters in GSM-7)", or
    "4 SMS segments (256 characters in UCS-2, 70 a segment instead of 160, because of 'В', 'е', 'с'…)"."""
    segments = sms_segments(text)
    size = (
        f"{segments} SMS segment{'s' if segments != 1 else ''} ({sms_length(text)} characters in {sms_encoding(text)}"
    )
    odd = non_gsm7(text)
    if odd:
        shown = ", ".join(f"'{ch}'" for ch in odd[:3]) + ("…" if len(odd) > 3 else "")
        size += f", 70 a segment instead of 160, because of {shown}"
    return size + ")"


def sms_too_long(text: str) -> str:
    return f"would be sent as {sms_size(text)}; at most {SMS_SEGMENTS_MAX} are allowed"


# Who the event's own SMS wording is tried on before it is saved: a name in GSM-7, and one in an
# alphabet outside it (which makes the whole text UCS-2, and the prefilled booking link longer).
SAMPLE_NAMES = (("River Stone", ""), ("Анна Орлова", "Cyrillic"))


def sms_wording_problem(event) -> str:
    """Why ``event.sms_text_template`` cannot be saved, in an operator's words ("" when it can):
    rendered as it would be sent (this event's title and links, a status link, both reminder
    kinds, a group of 10 seats), it takes more than ``SMS_SEGMENTS_MAX`` segments — for a plain
    name, or for a name in Cyrillic. Wording that does not compile is left to the preview, which
    shows the template error."""
    custom = event.sms_text_template or ""
    if not custom.strip():
        return ""
    from registrations.models import Attendee, Registration, Status

    from .links import booking_link
    from .tokens import status_url, unsubscribe_url

    largest = {}
    for name, alphabet in SAMPLE_NAMES:
        attendee = Attendee(name=name, email="river.stone@example.org", phone="+14155550123")
        registration = Registration(event=event, attendee=attendee, reference="R" + "A" * 16, status=Status.PAID_ONLY)
        for missing in ("booking", "payment"):
            # A sample: nothing is looked up for it (an event not saved yet has no mappings either).
            ctx = reminder_context(
                registration, "payment", status_url=status_url(999999), unsubscribe_url=unsubscribe_url(999999)
            )
            ctx.update(missing=missing, action=ACTIONS[missing], seats="10" if missing == "payment" else "")
            if missing == "booking":
                ctx["link"] = link_for(registration, missing) if event.pk else booking_link(registration)
            errors: list[str] = []
            sms = _render_sms(custom, ctx, errors, fallback=False)
            if errors:
                return ""
            if not sms:
                return _empty_sms_problem(custom, ctx, missing)
            if sms_segments(sms) > sms_segments(largest.get(alphabet, "")):
                largest[alphabet] = sms
    plain, other = largest[""], largest["Cyrillic"]
    advice = " Shorten it, or leave it blank for the default wording."
    if sms_segments(plain) > SMS_SEGMENTS_MAX:
        return f"This text message {sms_too_long(plain)}.{advice}"
    if sms_segments(other) > SMS_SEGMENTS_MAX:
        if re.search(r"{{\s*link\b", custom):
            advice += (
                " ({{ link }} carries the attendee's name, several times longer in a link when it is not in"
                " Latin letters; {{ status_url }} stays short.)"
            )
        return (
            f"To an attendee whose name is written in Cyrillic (or any alphabet outside GSM-7, such as Greek) "
            f"this text message {sms_too_long(other)}; {sms_segments(plain)} for a name like "
            f"{SAMPLE_NAMES[0][0]}.{advice}"
        )
    return ""


def _empty_sms_problem(custom: str, ctx: dict, missing: str) -> str:
    """Why wording that renders to no text at all cannot be saved (such a text cannot be sent)."""
    why = ""
    if re.search(r"{{\s*link\b", custom) and not ctx.get("link"):
        page = "Acuity scheduling link" if missing == "booking" else "Stripe Payment Link"
        why = f" ({{{{ link }}}} is empty there: this event has no {page}; {{{{ status_url }}}} always has a link)"
    return (
        f"This text message would be empty in a {missing} reminder{why}. Write words that always show "
        "(outside any {% if %}), or leave it blank for the default wording."
    )


def render_reminder(
    registration, missing: str, number: int = 1, *, status_url: str = "", unsubscribe_url: str = ""
) -> Rendered:
    event = registration.event
    ctx = reminder_context(registration, missing, number, status_url=status_url, unsubscribe_url=unsubscribe_url)
    errors: list[str] = []
    subject = _render_with_fallback("Email subject", event.email_subject_template, "subject.txt", ctx, False, errors)
    text = _render_with_fallback("Email text", event.email_text_template, "body.txt", ctx, False, errors)
    html = _render_with_fallback("Email HTML", event.email_html_template, "body.html", ctx, True, errors)
    sms = _render_sms(event.sms_text_template, ctx, errors)
    subject = re.sub(r"\s+", " ", subject).strip()[:SUBJECT_MAX] or f"A reminder about {event.name}"
    text, html = _with_unsubscribe(text, html, unsubscribe_url)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    html = html_document(html, subject) if html.strip() else ""
    return Rendered(subject=subject, text=text, html=html.strip(), sms=sms, errors=errors, context=ctx)
