"""The opt-in daily digest for co-hosts: per event, who registered since the last digest and who is
still incomplete. Nothing is sent when there is nothing new and nothing incomplete.

``send_daily_digests`` is the django-q2 task (see ``schedules.py``) and is safe to run twice,
or from two workers at once:

1. pick active co-hosts who opted in and whose last digest is older than ``MIN_GAP``;
2. for each, build one section per event that has not ended more than a day ago;
3. skip the co-host when no section has anything to say (their window keeps growing, capped at
   ``MAX_WINDOW``, so nothing new is lost);
4. claim the co-host with a compare-and-set on ``digest_last_sent_at`` — only one run wins;
5. send; if sending raises, release the claim so the next run tries again. (A worker killed
   between claim and send loses that day's digest: at most once, which is right for a digest.)

The digest never contains money, whatever the grants say: it is an email, forwarded and
stored in places we do not control. Money stays in the signed-in portal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from notifications.render import html_document

from ..audit import Actor, audit
from ..models import CoHost, CoHostGrant, Event
from .accounts import absolute_url
from .attendees import AttendeeRow, build_rows, local_time, registrations_for
from .mail import send_cohost_email

log = logging.getLogger(__name__)

MIN_GAP = timedelta(hours=20)  # a second run the same day sends nothing
DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=7)
LIST_LIMIT = 50  # per list per event; the rest is "and N more" with a link to the portal
ACTOR = Actor.system("schedule:registrations.cohost.daily_digest")


@dataclass
class Section:
    event: Event
    starts: str
    url: str
    new: list[AttendeeRow] = field(default_factory=list)
    new_total: int = 0
    incomplete: list[AttendeeRow] = field(default_factory=list)
    incomplete_total: int = 0

    @property
    def has_news(self) -> bool:
        return bool(self.new_total or self.incomplete_total)

    @property
    def new_more(self) -> int:
        return self.new_total - len(self.new)

    @property
    def incomplete_more(self) -> int:
        return self.incomplete_total - len(self.incomplete)


def _window_start(cohost: CoHost, now: datetime) -> datetime:
    last = cohost.digest_last_sent_at
    if last is None or now - last > MAX_WINDOW:
        return now - (DEFAULT_WINDOW if last is None else MAX_WINDOW)
    return last


def build_sections(cohost: CoHost, since: datetime, now: datetime) -> list[Section]:
    cutoff = now - timedelta(days=1)
    grants = (
        CoHostGrant.objects.filter(cohost=cohost)
        .filter(Q(event__ends_at__gte=cutoff) | Q(event__ends_at__isnull=True, event__starts_at__gte=cutoff))
        .select_related("event")
        .order_by("event__starts_at")
    )
    sections = []
    for grant in grants:
        event = grant.event
        new_qs = registrations_for(event).filter(created_at__gte=since, created_at__lt=now)
        incomplete_qs = registrations_for(event, show="incomplete")
        section = Section(
            event=event,
            starts=local_time(event.starts_at, event),
            url=absolute_url(reverse("cohost:event", args=[event.slug])),
            new_total=new_qs.count(),
            incomplete_total=incomplete_qs.count(),
        )
        section.new = build_rows(new_qs[:LIST_LIMIT], event, can_see_money=False)
        section.incomplete = build_rows(incomplete_qs[:LIST_LIMIT], event, can_see_money=False)
        sections.append(section)
    return sections


def _send(cohost: CoHost, sections: list[Section], since: datetime) -> int:
    new = sum(s.new_total for s in sections)
    incomplete = sum(s.incomplete_total for s in sections)
    context = {
        "cohost": cohost,
        "name": cohost.user.get_full_name() or cohost.user.email,
        "sections": [s for s in sections if s.has_news],
        "since": timezone.localtime(since).strftime("%a %d %b %Y, %H:%M %Z"),
        "new": new,
        "incomplete": incomplete,
        "portal_url": absolute_url(reverse("cohost:index")),
        "login_url": absolute_url(reverse("cohost:login")),
    }
    subject = f"JLF co-host digest: {new} new, {incomplete} still incomplete"
    return send_cohost_email(
        cohost.user.email,
        subject,
        render_to_string("cohost/email/digest.txt", context),
        html_document(render_to_string("cohost/email/digest.html", context), subject),
        kind="cohost_digest",
    )


def send_daily_digests(now: datetime | None = None) -> dict:
    """Send today's digests. Returns counts: sent, queued (a transient failure the message log
    retries), nothing_to_say, already_sent, failed (permanent; retried on the next run)."""
    now = now or timezone.now()
    summary = {"sent": 0, "queued": 0, "nothing_to_say": 0, "already_sent": 0, "failed": 0}
    cohosts = (
        CoHost.objects.filter(daily_digest=True, is_active=True, user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
        .order_by("pk")
    )
    for cohost in cohosts:
        last = cohost.digest_last_sent_at
        if last is not None and now - last < MIN_GAP:
            summary["already_sent"] += 1
            continue
        since = _window_start(cohost, now)
        sections = build_sections(cohost, since, now)
        if not any(s.has_news for s in sections):
            summary["nothing_to_say"] += 1
            continue
        claimed = (
            CoHost.objects.filter(pk=cohost.pk, digest_last_sent_at=last)
            if last
            else (CoHost.objects.filter(pk=cohost.pk, digest_last_sent_at__isnull=True))
        )
        if claimed.update(digest_last_sent_at=now) != 1:
            summary["already_sent"] += 1
            continue
        try:
            accepted = _send(cohost, sections, since)
        except Exception:
            log.exception("Co-host digest for co-host %s failed; it will be retried on the next run", cohost.pk)
            CoHost.objects.filter(pk=cohost.pk, digest_last_sent_at=now).update(digest_last_sent_at=last)
            summary["failed"] += 1
            continue
        audit(
            "cohost.digest_sent",
            actor=ACTOR,
            obj=cohost,
            after={
                "since": since.isoformat(),
                "events": [s.event.slug for s in sections if s.has_news],
                "new": sum(s.new_total for s in sections),
                "incomplete": sum(s.incomplete_total for s in sections),
            },
        )
        # Not accepted yet = queued in the message log, which retries it; the claim stays so the
        # next run does not send a second copy.
        summary["sent" if accepted else "queued"] += 1
    log.info("Co-host digests: %s", summary)
    return summary
