"""What ``reconcile`` and ``backfill`` share: running the engine with a progress line, printing
each change, and the report."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError

from integrations.models import ReconcileRun
from integrations.progress import Progress
from integrations.reconcile import ReconcileBusy, reconcile
from integrations.reconcile_pool import ApplyProcessDied
from integrations.reconcile_report import format_report


def run_and_report(command, *, verbosity: int, dry_run: bool, **kwargs) -> ReconcileRun:
    progress = Progress(getattr(command.stderr, "_out", command.stderr), enabled=None if verbosity else False)
    show_changes = dry_run or verbosity >= 2

    def on_change(verb, provider, slug, text):
        if show_changes:
            progress.clear()
            command.stdout.write(f"{verb:<12} {provider:<6} {slug}  {text}")

    def on_wait(seconds, text):
        # From a listing thread, while the provider makes the run wait (Retry-After): on a terminal
        # the progress line says so at once; otherwise (cron, logs) waits of a second or more get a
        # line of their own, so a run that goes quiet for minutes says why.
        if progress.enabled:
            progress.update(text, force=True)
        elif verbosity and seconds >= 1:
            command.stderr.write(text)

    try:
        run = reconcile(
            dry_run=dry_run,
            on_change=on_change,
            on_progress=progress.update,
            on_wait=on_wait,
            processes=settings.RECONCILE_APPLY_PROCESSES,
            **kwargs,
        )
    except (ValueError, ReconcileBusy, ApplyProcessDied) as exc:
        raise CommandError(str(exc))
    finally:
        progress.clear()
    if show_changes:
        command.stdout.write("")
    command.stdout.write(format_report(run))
    if run.status != ReconcileRun.Status.OK:
        raise CommandError(
            f"reconciliation run #{run.pk} is {run.status} ({run.get_status_display().lower()}): see the errors "
            "above, and the run in the admin under Integrations → Reconcile runs."
        )
    return run
