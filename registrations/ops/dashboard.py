"""GET /ops/ — every event at a glance: upcoming first (soonest first), then past (latest first)."""

from __future__ import annotations

from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from integrations.models import WebhookEvent

from ..models import Event, ReviewItem
from .access import staff_required
from .charts import growth_chart, status_bar
from .context import ops_context
from .stats import cumulative_series, event_stats, webhook_pulse

PAST_SHOWN = 6


@require_GET
@staff_required
def dashboard(request):
    now = timezone.now()
    upcoming = list(Event.objects.filter(starts_at__gte=now).order_by("starts_at"))
    show_all_past = request.GET.get("past") == "all"
    past_qs = Event.objects.filter(starts_at__lt=now).order_by("-starts_at")
    past_total = past_qs.count()
    past = list(past_qs if show_all_past else past_qs[:PAST_SHOWN])
    stats = event_stats(upcoming + past)
    today = timezone.localdate()

    def card(event):
        s = stats[event.pk]
        until = min(today, timezone.localdate(event.starts_at)) if event.starts_at < now else today
        return {
            "event": event,
            "stats": s,
            "status_chart": status_bar(s.status_rows),
            "growth_chart": growth_chart(cumulative_series(s.per_day, until)),
        }

    unmatched = dict(
        ReviewItem.objects.filter(state=ReviewItem.State.OPEN, event__isnull=True)
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    context = ops_context(
        request,
        upcoming=[card(e) for e in upcoming],
        past=[card(e) for e in past],
        past_hidden=0 if show_all_past else max(past_total - len(past), 0),
        pulses=webhook_pulse(has_upcoming=bool(upcoming)),
        unmatched_open=sum(unmatched.values()),
        # Deliveries that could not be applied (after their retries): a payment or booking that
        # never reached its registration until someone retries it from the webhook inbox.
        failed_webhooks=WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).count(),
        now=now,
    )
    return render(request, "ops/dashboard.html", context)
