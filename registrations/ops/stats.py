"""Per-event figures for the dashboard and the event page.

Every figure comes from a handful of grouped queries over all the events shown at once, so the
number of queries does not grow with the number of registrations (nor with the number of events).

Money: gross = the sum of paid payment amounts (walk-in complimentary and group seats are 0, so
they add nothing), refunded = the sum of refunded amounts, net = gross − refunded.
Seats paid = seats in live (not fully refunded) payments: a group payment counts its quantity;
the per-seat facts of a group payment are not counted again. Seats booked = live bookings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, F, IntegerField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from integrations.models import WebhookEvent

from ..models import Booking, Event, Payment, Registration, ReviewItem, Status

WEBHOOK_SILENCE_WARNING = timedelta(days=3)
# Providers whose silence means sales are not reaching us (Twilio/Resend only call back when
# we send something, so their silence is normal).
SALES_PROVIDERS = ("stripe", "acuity")

_LIVE_PAID = Q(state=Payment.State.PAID) & ~Q(amount__gt=0, amount_refunded__gte=F("amount"))


@dataclass
class EventStats:
    event: Event
    counts: dict = field(default_factory=dict)
    total: int = 0
    seats_paid: int = 0
    seats_booked: int = 0
    gross: int = 0
    refunded: int = 0
    open_items: int = 0
    per_day: dict = field(default_factory=dict)

    @property
    def net(self) -> int:
        return self.gross - self.refunded

    @property
    def status_rows(self):
        """(value, label, count) for every status, in the product's order."""
        return [(value, label, self.counts.get(value, 0)) for value, label in Status.choices]

    @property
    def needs_review(self) -> int:
        """Registrations whose status is "Needs review" (the legend's number). ``open_items``
        counts queue cases instead: a suggested pair is one case holding two registrations."""
        return self.counts.get(Status.NEEDS_REVIEW, 0)

    @property
    def incomplete(self) -> int:
        return self.counts.get(Status.PAID_ONLY, 0) + self.counts.get(Status.BOOKED_ONLY, 0)

    @property
    def over_capacity(self) -> bool:
        cap = self.event.capacity
        return bool(cap) and max(self.seats_paid, self.seats_booked) > cap


def event_stats(events: list[Event]) -> dict[int, EventStats]:
    ids = [e.pk for e in events]
    stats = {e.pk: EventStats(event=e) for e in events}
    if not ids:
        return stats
    for row in (
        Registration.objects.filter(event_id__in=ids).values("event_id", "status").annotate(n=Count("id")).order_by()
    ):
        s = stats[row["event_id"]]
        s.counts[row["status"]] = row["n"]
        s.total += row["n"]
    money = (
        Payment.objects.filter(event_id__in=ids, state=Payment.State.PAID)
        .values("event_id")
        .annotate(
            gross=Coalesce(Sum("amount"), Value(0)),
            refunded=Coalesce(Sum("amount_refunded"), Value(0)),
            seats=Coalesce(
                Sum(
                    Coalesce("quantity", Value(1), output_field=IntegerField()),
                    filter=_LIVE_PAID & ~Q(method=Payment.Method.GROUP_SEAT),
                ),
                Value(0),
            ),
        )
        .order_by()
    )
    for row in money:
        s = stats[row["event_id"]]
        s.gross, s.refunded, s.seats_paid = row["gross"], row["refunded"], row["seats"]
    for row in (
        Booking.objects.filter(event_id__in=ids, cancelled=False).values("event_id").annotate(n=Count("id")).order_by()
    ):
        stats[row["event_id"]].seats_booked = row["n"]
    for row in (
        ReviewItem.objects.filter(event_id__in=ids, state=ReviewItem.State.OPEN)
        .values("event_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        stats[row["event_id"]].open_items = row["n"]
    for row in (
        Registration.objects.filter(event_id__in=ids)
        .annotate(day=TruncDate("created_at"))
        .values("event_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    ):
        stats[row["event_id"]].per_day[row["day"]] = row["n"]
    return stats


def cumulative_series(per_day: dict[date, int], until: date) -> list[tuple[date, int]]:
    """Running total per day from the first registration to ``until`` (at most 120 points:
    older days are folded into the first point so the chart stays small)."""
    if not per_day:
        return []
    days = sorted(per_day)
    start, end = days[0], max(until, days[-1])
    if (end - start).days > 119:
        start = end - timedelta(days=119)
    total = sum(n for d, n in per_day.items() if d < start)
    # Start from the day before the first registration, so even one busy day draws a rise.
    series = [(start - timedelta(days=1), total)]
    day = start
    while day <= end:
        total += per_day.get(day, 0)
        series.append((day, total))
        day += timedelta(days=1)
    return series


@dataclass
class ProviderPulse:
    provider: str
    label: str
    last: object = None
    warning: str = ""


def webhook_pulse(has_upcoming: bool) -> list[ProviderPulse]:
    """The last webhook received from each provider; a sales provider silent for more than three
    days while an event is on sale is a warning (a broken endpoint or an expired secret)."""
    now = timezone.now()
    pulses = []
    for value, label in WebhookEvent.Provider.choices:
        # One indexed lookup per provider ((provider, -received_at) index): a GROUP BY over the
        # whole inbox would read every row.
        last = (
            WebhookEvent.objects.filter(provider=value)
            .order_by("-received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        p = ProviderPulse(provider=value, label=label, last=last)
        if has_upcoming and value in SALES_PROVIDERS:
            if p.last is None:
                p.warning = f"No {label} webhook has ever arrived while an event is on sale."
            elif now - p.last > WEBHOOK_SILENCE_WARNING:
                p.warning = (
                    f"No {label} webhook for {(now - p.last).days} days while an event is on sale: "
                    "check the webhook endpoint and its secret."
                )
        pulses.append(p)
    return pulses
