"""Formatting for the operator pages: money in currency units, short relative ages."""

from __future__ import annotations

from django import template
from django.utils import timezone

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
    code = (currency or "").lower()
    symbol = _SYMBOLS.get(code)
    sign = "−" if value < 0 else ""
    if symbol:
        return f"{sign}{symbol}{abs(value):,}"
    return f"{sign}{abs(value):,} {code.upper()}".strip()


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
