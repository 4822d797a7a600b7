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
    from .delivery import deliver

    statuses: dict[str, int] = {}
    for pk in message_ids:
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
