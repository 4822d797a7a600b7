"""django-q2 entry points. Each is safe to run twice: claims and leases live in the database."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def scan_reminders() -> dict:
    """Every 5 minutes: select, claim, sweep and enqueue (``notifications.scan``)."""
    from .scan import run_scan

    return run_scan(process="enqueue").as_dict()


def process_reminders(reminder_ids: list[int]) -> dict:
    from .livecheck import one_task
    from .reminders import process_reminder

    outcomes: dict[str, int] = {}
    with one_task():  # the live checks of the whole chunk stay inside the task's timeout
        for pk in reminder_ids:
            try:
                outcome = process_reminder(pk)
            except Exception:  # one bad reminder must not strand the rest of the chunk
                log.exception("reminder %s failed; the scan's sweep will pick it up again", pk)
                outcome = "error"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def deliver_messages(message_ids: list[int]) -> dict:
    """Retries of up to 50 queued messages. No new send starts once half of the worker's task
    timeout has gone (a provider that hangs costs up to its HTTP timeout a message): the rest
    stay queued and the next scan's sweep (``delivery.due_for_retry``) hands them out again, so
    the task is never killed half-way through its list."""
    import time

    from jlf.tasks import task_timeout

    from .delivery import deliver

    ends = time.monotonic() + task_timeout() / 2
    statuses: dict[str, int] = {}
    for i, pk in enumerate(message_ids):
        if time.monotonic() > ends:
            log.warning("message retries: out of time, %d left for the next sweep", len(message_ids) - i)
            statuses["left for the next sweep"] = len(message_ids) - i
            break
        try:
            row = deliver(pk)
            status = row.status if row else "missing"
        except Exception:
            log.exception("message %s failed", pk)
            status = "error"
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def send_operator_digest() -> dict:
    """Daily: new review items, failed webhooks and failed messages to every operator."""
    from .digest import send_digest

    return send_digest()
