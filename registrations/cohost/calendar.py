"""The co-host's calendar feed: one VEVENT per event they co-host.

The feed URL is a bearer secret (calendar apps cannot sign in), so the feed holds what a
calendar needs — when, where, what — and counts of who is coming, never names, contacts or
money, whatever the co-host's grants say. Times are written in UTC so every client shows them
in its own zone without shipping VTIMEZONE definitions.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as VEvent

from ..models import CoHost, Event
from .attendees import INCOMPLETE

# Past events stay in the feed for a while so a calendar does not lose recent history.
KEEP_PAST_DAYS = 180
DEFAULT_LENGTH = timedelta(hours=2)


def _events(cohost: CoHost):
    since = timezone.now() - timedelta(days=KEEP_PAST_DAYS)
    return (
        Event.objects.filter(cohost_grants__cohost=cohost, starts_at__gte=since)
        .annotate(
            n_complete=Count("registrations", filter=Q(registrations__status="complete")),
            n_incomplete=Count("registrations", filter=Q(registrations__status__in=INCOMPLETE)),
        )
        .order_by("starts_at")
    )


def build_feed(cohost: CoHost) -> bytes:
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or "jlf.invalid"
    cal = Calendar()
    cal.add("prodid", "-//JLF Registrations//Co-host calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "JLF co-hosting")
    cal.add("x-published-ttl", "PT6H")
    for event in _events(cohost):
        start = event.starts_at.astimezone(UTC)
        end = (event.ends_at or event.starts_at + DEFAULT_LENGTH).astimezone(UTC)
        url = f"{settings.PUBLIC_BASE_URL}{reverse('cohost:event', args=[event.slug])}"
        vevent = VEvent()
        vevent.add("uid", f"jlf-event-{event.pk}@{host}")
        vevent.add("dtstamp", event.updated_at.astimezone(UTC))
        vevent.add("dtstart", start)
        vevent.add("dtend", max(end, start))
        vevent.add("summary", event.name)
        if event.location:
            vevent.add("location", event.location)
        vevent.add(
            "description",
            f"{event.n_complete} complete, {event.n_incomplete} still incomplete.\nAttendee list: {url}",
        )
        vevent.add("url", url)
        vevent.add("status", "CONFIRMED")
        vevent.add("transp", "OPAQUE")
        cal.add_component(vevent)
    return cal.to_ical()
