"""Formatting for the operator pages: money in currency units, short relative ages, and a
card's stored text in the same formats as the facts shown under it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import dateformat, timezone

from ..money import from_minor

register = template.Library()

_SYMBOLS = {"usd": "$", "cad": "CA$", "aud": "A$", "eur": "€", "gbp": "£"}


@register.filter
def money(amount, currency="usd"):
    """12000, "usd" → "$120.00"; 12000, "jpy" → "12,000 JPY" (amounts are in Stripe's minor
    units, see registrations.money); None → "—"."""
    if amount is None or amount == "":
        return "—"
    try:
        value = from_minor(int(amount), currency)
    except (TypeError, ValueError):
        return "—"
    return _shown(value, currency)


def _shown(value: Decimal, currency) -> str:
    code = (currency or "").lower()
    symbol = _SYMBOLS.get(code)
    sign = "−" if value < 0 else ""
    if symbol:
        return f"{sign}{symbol}{abs(value):,}"
    return f"{sign}{abs(value):,} {code.upper()}".strip()


# What ``registrations.money.format_money`` writes into a stored explanation ("1,200.00 USD") and
# the days the explanations give ("2026-11-17", or "2026-11-20 09:00 CET" for an event's start).
_MONEY_IN_TEXT = re.compile(r"(?<![\w.,:−-])(-?\d{1,3}(?:,\d{3})*(?:\.\d+)?) ([A-Z]{3})\b")
_DAY_IN_TEXT = re.compile(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?: (\d{2}:\d{2})(?!:))?(?![\w-])")


def _page_money(match) -> str:
    code = match[2].lower()
    if code not in _SYMBOLS:  # "12,000 JPY" already reads as the ``money`` filter shows it
        return match[0]
    try:
        return _shown(Decimal(match[1].replace(",", "")), code)
    except InvalidOperation:
        return match[0]


def _page_day(match) -> str:
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return match[0]
    shown = dateformat.format(day, "j M Y")  # as the cards' facts give a day ("since 17 Nov 2026")
    return f"{shown}, {match[4]}" if match[4] else shown


@register.filter
def card_text(text):
    """A review card's stored explanation in the page's formats: "120.00 USD" → "$120.00" and
    "2026-11-17" → "17 Nov 2026" (a time after the day stays: "17 Nov 2026, 09:00 CET").

    The explanation is written once, when the card opens (``detection``, ``clearing``), in the
    formats of the audit trail, and cards opened long ago keep theirs: reading it here, rather
    than writing another format, makes old and new cards read alike without touching stored
    rows. The days in it are already the event's days: reformatted, never converted."""
    if not text:
        return text
    return _DAY_IN_TEXT.sub(_page_day, _MONEY_IN_TEXT.sub(_page_money, str(text)))


@register.filter
def units(amount, currency="usd"):
    """12000, "usd" → "120.00"; 12000, "jpy" → "12000" (for amount inputs)."""
    try:
        return str(from_minor(int(amount or 0), currency))
    except (TypeError, ValueError):
        return ""


@register.filter
def age(when):
    """A short "how long ago": "5 min", "3 h", "4 days"."""
    if not when:
        return "never"
    seconds = max((timezone.now() - when).total_seconds(), 0)
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 36 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"
