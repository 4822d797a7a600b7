"""Reminder wording: the event's own templates when set, the defaults otherwise.

Templates use Django's template language in a sandbox: a private ``Engine`` with the built-in
tags and filters only (no ``{% load %}`` libraries, no ``{% include %}``/``{% extends %}``, since
it has no loaders) and a context of plain strings, never model instances, so an operator's
template cannot reach anything but the variables below:

    first_name, name, event_name, event_date, event_location, missing ("booking"/"payment"),
    action ("book your place"/"complete your payment"), link, status_url, unsubscribe_url,
    reference, reminder_number, signature, seats

``seats`` is set ("3") only in a payment reminder to someone whose group payment (several seats in
one payment) failed: the default wording then asks them to choose that many seats on the payment
page, as the "didn't go through" page does (a Payment Link's address cannot set the quantity).

A missing value renders as "" (use ``{{ first_name|default:"there" }}``). An event template that
does not compile or fails to render falls back to the default wording, and the problem is
reported (``Rendered.errors``) so the admin preview shows it before anything is sent.

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
SMS_MAX = 1600  # Twilio's hard limit on a message body
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
SMS_SEGMENTS_WANTED = 2
_GSM7 = re.compile(r"[A-Za-z0-9 @£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,\-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r]*")


def clean_sms(text: str) -> str:
    # Non-breaking and other exotic spaces, curly quotes and dashes force UCS-2 encoding, which
    # more than halves the characters per segment; use the plain characters and collapse all
    # whitespace to single spaces.
    text = re.sub(r"\s+", " ", text.replace("\xa0", " ").translate(SMS_PLAIN)).strip()
    return text[:SMS_MAX]


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
    return bool(_GSM7.fullmatch(text))


def sms_segments(text: str) -> int:
    """How many billable segments Twilio will split ``text`` into (GSM-7 vs UCS-2)."""
    single, multi = (160, 153) if is_gsm7(text) else (70, 67)
    if len(text) <= single:
        return 1 if text else 0
    return -(-len(text) // multi)


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
            '<p style="margin:16px 0 0 0;font-size:12px;color:#777;">Don\'t want these reminders? '
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


def _render_sms(custom: str, ctx: dict, errors: list[str]) -> str:
    """The text message, within ``SMS_SEGMENTS_WANTED`` segments when the wording allows: the
    event title, location and names are made plain (no emoji, curly quotes) and, when the text is
    still too long, shortened (never the link, never the operator's own wording)."""
    sms_ctx = {**ctx, **{key: sms_value(ctx.get(key, "")) for key, _ in SMS_SHORTENED}}
    first_errors: list[str] = []
    sms = clean_sms(_render_with_fallback("SMS text", custom, "sms.txt", sms_ctx, False, first_errors))
    errors.extend(first_errors)
    for key, floor in SMS_SHORTENED:
        while sms_segments(sms) > SMS_SEGMENTS_WANTED and len(sms_ctx[key]) > floor:
            limit = max(floor, len(sms_ctx[key]) - max(sms_segments(sms) - SMS_SEGMENTS_WANTED, 1) * 20)
            sms_ctx[key] = shorten(sms_ctx[key], limit) if limit else ""
            sms = clean_sms(_render_with_fallback("SMS text", custom, "sms.txt", sms_ctx, False, []))
    return sms


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
