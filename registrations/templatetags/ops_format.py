"""Formatting for the operator pages: money in currency units, short relative ages."""

from __future__ import annotations

from django import template
from django.utils import timezone

register = template.Library()

_SYMBOLS = {"usd": "$", "cad": "CA$", "aud": "A$", "eur": "€", "gbp": "£"}


@register.filter
def money(cents, currency="usd"):
    """12000, "usd" → "$120.00"; None → "—"."""
    if cents is None or cents == "":
        return "—"
    try:
        value = int(cents) / 100
    except (TypeError, ValueError):
        return "—"
    code = (currency or "").lower()
    symbol = _SYMBOLS.get(code)
    sign = "−" if value < 0 else ""
    if symbol:
        return f"{sign}{symbol}{abs(value):,.2f}"
    return f"{sign}{abs(value):,.2f} {code.upper()}".strip()


@register.filter
def units(cents):
    """12000 → "120.00" (for amount inputs)."""
    try:
        return f"{int(cents or 0) / 100:.2f}"
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
