"""Reminder wording: the event's own templates when set, the defaults otherwise.

Templates use Django's template language in a sandbox: a private ``Engine`` with the built-in
tags and filters only (no ``{% load %}`` libraries, no ``{% include %}``/``{% extends %}``, since
it has no loaders) and a context of plain strings, never model instances, so an operator's
template cannot reach anything but the variables below:

    first_name, name, event_name, event_date, event_location, missing ("booking"/"payment"),
    action ("book your place"/"complete your payment"), link, status_url, unsubscribe_url,
    reference, reminder_number, signature

A missing value renders as "" (use ``{{ first_name|default:"there" }}``). An event template that
does not compile or fails to render falls back to the default wording, and the problem is
reported (``Rendered.errors``) so the admin preview shows it before anything is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import formats

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


def clean_sms(text: str) -> str:
    # Non-breaking and other exotic spaces force UCS-2 encoding, which halves the characters per
    # segment and doubles the cost; collapse all whitespace to single spaces.
    text = re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()
    return text[:SMS_MAX]


def sms_segments(text: str) -> int:
    """How many billable segments Twilio will split ``text`` into (GSM-7 vs UCS-2)."""
    gsm = re.fullmatch(r"[A-Za-z0-9 @£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,\-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r]*", text)
    single, multi = (160, 153) if gsm else (70, 67)
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
    }


def render_reminder(
    registration, missing: str, number: int = 1, *, status_url: str = "", unsubscribe_url: str = ""
) -> Rendered:
    event = registration.event
    ctx = reminder_context(registration, missing, number, status_url=status_url, unsubscribe_url=unsubscribe_url)
    errors: list[str] = []
    subject = _render_with_fallback("Email subject", event.email_subject_template, "subject.txt", ctx, False, errors)
    text = _render_with_fallback("Email text", event.email_text_template, "body.txt", ctx, False, errors)
    html = _render_with_fallback("Email HTML", event.email_html_template, "body.html", ctx, True, errors)
    sms = _render_with_fallback("SMS text", event.sms_text_template, "sms.txt", ctx, False, errors)
    subject = re.sub(r"\s+", " ", subject).strip()[:SUBJECT_MAX] or f"A reminder about {event.name}"
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return Rendered(subject=subject, text=text, html=html.strip(), sms=clean_sms(sms), errors=errors, context=ctx)
