"""Money as Stripe keeps it: an integer in the currency's smallest unit ("minor units").

Every amount in the database (payments, refunds, disputes, event prices, audit rows) is in
minor units, as Stripe sends it. How many minor units make one whole unit depends on the
currency (https://docs.stripe.com/currencies):

* most currencies have two decimals: 12000 USD minor units are 120.00 USD;
* Stripe's zero-decimal currencies (JPY, KRW, VND, CLP, …) have none: 12000 JPY is ¥12,000;
* the three-decimal currencies (BHD, JOD, KWD, OMR, TND) count thousandths, and Stripe asks
  that the last digit of an amount sent to it be 0 (5.124 KWD cannot be sent; 5.120 can), so
  an amount typed by an operator may have at most two decimals there.

Stripe's special cases stay two-decimal here, as its API expects them: ISK, HUF and TWD amounts
are still sent with two decimals (ISK 5 is 500).

Nothing outside this module multiplies or divides money by 100: use ``format_money`` to show
an amount, ``from_minor`` for a number in whole units (exports, form inputs) and ``to_minor``
for an amount typed in whole units.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
})  # fmt: skip
# https://docs.stripe.com/currencies#three-decimal
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

_MAX_DIGITS = 20  # an amount with more digits than this is a typo, not money


class MoneyError(ValueError):
    """An amount that cannot be expressed in the currency; the message says what to type."""


def _code(currency: str | None) -> str:
    return (currency or "usd").strip().lower()


def exponent(currency: str | None) -> int:
    """How many decimals the currency's amounts have in Stripe: 0, 2 or 3."""
    code = _code(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def from_minor(amount: int | None, currency: str | None) -> Decimal:
    """12000, "usd" → Decimal("120.00"); 12000, "jpy" → Decimal("12000"); None → 0."""
    places = exponent(currency)
    return Decimal(int(amount or 0)).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def to_minor(value: Decimal | str | int, currency: str | None) -> int:
    """An amount in whole units → minor units: "120.50", "usd" → 12050; "12000", "jpy" → 12000.

    Never rounds: an amount with more decimals than the currency has (or, for a three-decimal
    currency, whose last digit Stripe would refuse) raises MoneyError."""
    code = _code(currency)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MoneyError("Type an amount like 120 or 120.50.") from None
    if not amount.is_finite():
        raise MoneyError("Type an amount like 120 or 120.50.")
    if amount and amount.adjusted() >= _MAX_DIGITS:
        raise MoneyError("That amount is too large; check the number.")
    decimals = max(0, -amount.normalize().as_tuple().exponent) if amount else 0
    places = exponent(code)
    if places == 0 and decimals:
        raise MoneyError(f"{code.upper()} has no minor unit: type a whole amount, like 12000.")
    if places == 3 and decimals > 2:
        raise MoneyError(
            f"Stripe takes {code.upper()} amounts with a last decimal of 0: use at most two decimal places."
        )
    if decimals > places:
        raise MoneyError("Use at most two decimal places.")
    return int(amount.scaleb(places))


def format_money(amount: int | None, currency: str | None) -> str:
    """12000, "usd" → "120.00 USD"; 12000, "jpy" → "12,000 JPY"; None counts as 0."""
    return f"{from_minor(amount, currency):,} {_code(currency).upper()}"
