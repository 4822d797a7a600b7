"""Run stored webhook deliveries again through the same processing path as the worker.

Steps:
1. select inbox rows: ``--id`` (inbox id or provider event id, repeatable) picks exact rows in any
   status; otherwise ``failed`` rows (``--failed``) or, by default, failed plus ``received`` rows
   that are stuck (due, not running) — narrowed by ``--provider`` and ``--since`` (``2d``, ``6h``,
   ``30m``, ``2w`` or a date, as for ``reconcile``);
2. ``--dry-run`` lists them and stops;
3. each row gets a fresh attempt budget and is processed now, in this process (``--enqueue``
   hands them to the worker instead);
4. print one line per row and a summary (processed / ignored / failed / retry scheduled).

Safe to run at any time: processing is idempotent and a row being processed elsewhere is skipped.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from integrations.inbox import requeue
from integrations.models import WebhookEvent
from integrations.reconcile_sources import parse_since as parse_window
from integrations.tasks import replay_now
from jlf.readonly import processing_paused


def parse_since(value: str) -> timedelta:
    """The same windows as ``manage.py reconcile --since``: 2d, 6h, 30m, 2w or a date."""
    try:
        return parse_window(value)
    except ValueError as exc:
        raise CommandError(f"--since: {exc}") from None


class Command(BaseCommand):
    help = "Re-run stored webhook deliveries (failed ones by default) through the normal processing path."

    def add_arguments(self, parser):
        parser.add_argument("--failed", action="store_true", help="only deliveries whose processing failed")
        parser.add_argument(
            "--id", action="append", default=[], dest="ids", help="inbox id or provider event id (repeatable)"
        )
        parser.add_argument(
            "--since", help="only deliveries received within this long (2d, 6h, 30m, 2w) or since a date"
        )
        parser.add_argument("--provider", choices=[p.value for p in WebhookEvent.Provider])
        parser.add_argument("--limit", type=int, default=1000, help="at most this many rows (default 1000)")
        parser.add_argument("--dry-run", action="store_true", help="list what would run, run nothing")
        parser.add_argument("--enqueue", action="store_true", help="queue them for the worker instead of running here")

    def handle(self, *args, **opts):
        if opts["limit"] < 1:
            raise CommandError(f"--limit {opts['limit']}: give at least 1 (the default is 1000)")
        rows = self.select(opts)
        total = len(rows)
        if not total:
            self.stdout.write("Nothing to replay.")
            return
        if opts["dry_run"]:
            for row in rows:
                self.stdout.write(
                    f"would replay #{row.pk} {row.provider} {row.event_type} {row.event_id} ({row.status})"
                )
            self.stdout.write(f"{total} delivery(ies) would be replayed (dry run).")
            return
        if processing_paused():
            raise CommandError(
                "Read-only maintenance mode is on (READ_ONLY_MODE): processing is paused. "
                "Replay after the mode is lifted (use --dry-run to list what would run)."
            )
        if opts["enqueue"]:
            # Rows named with --id run in any status, queued as they would run here.
            queued = requeue(WebhookEvent.objects.filter(pk__in=[r.pk for r in rows]), any_status=bool(opts["ids"]))
            self.stdout.write(f"Queued {queued} of {total} delivery(ies) for the worker.")
            return
        outcomes = Counter()
        for row in rows:
            outcome = replay_now(row.pk)
            outcomes[outcome] += 1
            fresh = WebhookEvent.objects.get(pk=row.pk)
            detail = fresh.result if outcome == "processed" else fresh.last_error or fresh.result
            self.stdout.write(f"#{row.pk} {row.provider} {row.event_type} {row.event_id}: {outcome} {detail}".rstrip())
        labels = {
            "processed": "processed",
            "ignored": "ignored",
            "failed": "failed",
            "received": "retry scheduled",
            "running elsewhere": "skipped (running elsewhere)",
            "paused": "skipped (processing paused)",
            "missing": "no longer in the inbox",
        }
        order = [*labels, *sorted(set(outcomes) - set(labels))]  # an outcome without a label keeps its own name
        summary = ", ".join(f"{outcomes[k]} {labels.get(k, k)}" for k in order if outcomes[k])
        style = self.style.ERROR if outcomes["failed"] else self.style.SUCCESS
        self.stdout.write(style(f"Replayed {total} delivery(ies): {summary}."))

    def select(self, opts) -> list[WebhookEvent]:
        qs = WebhookEvent.objects.all()
        if opts["ids"]:
            q = Q()
            for ident in opts["ids"]:
                q |= Q(event_id=ident)
                if ident.isdigit():
                    q |= Q(pk=int(ident))
            qs = qs.filter(q)
        elif opts["failed"]:
            qs = qs.filter(status=WebhookEvent.Status.FAILED)
        else:
            now = timezone.now()
            stuck = Q(status=WebhookEvent.Status.RECEIVED) & (
                Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
            )
            qs = qs.filter(Q(status=WebhookEvent.Status.FAILED) | stuck)
        if opts["provider"]:
            qs = qs.filter(provider=opts["provider"])
        if opts["since"]:
            qs = qs.filter(received_at__gte=timezone.now() - parse_since(opts["since"]))
        return list(qs.order_by("received_at", "pk")[: opts["limit"]])
