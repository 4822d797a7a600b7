"""A reminder task handles several reminders (scan.CHUNK); the live checks of all of them together
must stop asking before the worker would kill the task, not each one on its own clock."""

from django.core import mail

from notifications.models import Reminder
from notifications.scan import run_scan
from notifications.tasks import process_reminders
from registrations.models import Status
from registrations.services import apply_payment
from registrations.signals import PaymentSignal

from .conftest import PLINK
from .test_live_check import _age


def _paid_only(n: int):
    reg = apply_payment(
        PaymentSignal(
            status="paid",
            source_id=f"cs_known_{n}",
            checkout_session_id=f"cs_known_{n}",
            event_keys=(("stripe_payment_link", PLINK),),
            email=f"person{n}@example.org",
            name=f"Person Number{n}",
            amount=12000,
            currency="usd",
            quantity=1,
            raw_ref=f"evt_{n}",
        )
    ).registration
    assert reg.status == Status.PAID_ONLY
    _age(reg)


def test_a_reminder_task_stops_live_checks_once_half_its_timeout_has_gone(event, fake_acuity, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 1}  # no new call after 0.5 s
    for n in range(3):
        _paid_only(n)
    ids = run_scan(process="none").reminder_ids
    assert len(ids) == 3
    # Every answer comes in time for its own reminder (two calls each, 0.4 s apiece), but three
    # reminders' worth would outlive the one-second task.
    fake_acuity.fail_next(6, status=200, body=[], delay=0.4)

    outcomes = process_reminders(ids)

    assert outcomes == {"sent": 1, "deferred": 2}
    assert fake_acuity.count("GET", r"^/api/v1/appointments$") == 2
    assert len(mail.outbox) == 1
    assert Reminder.objects.filter(status=Reminder.Status.DEFERRED).count() == 2
