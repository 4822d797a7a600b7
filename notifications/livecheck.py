"""Just before a reminder goes out: does the missing half already exist at the provider?

A webhook can be late, lost (Acuity never retries) or still in the inbox. Asking the provider
costs one or two API calls and avoids the worst reminder there is: "please pay" to someone who
paid an hour ago.

* Missing booking → Acuity ``GET /appointments?email=…&appointmentTypeID=…&showall=true`` for each
  appointment type mapped to the event and each address we know for the attendee (plus
  ``field:<id>=<reference>`` when the event has a reference field).
* Missing payment → Stripe ``GET /v1/checkout/sessions?payment_link=…&customer_details[email]=…``
  with ``expand[]=data.line_items``, for each Payment Link mapped to the event. A paid session
  counts as paid; a completed bank-debit session (``payment_status == "unpaid"``) is not money
  yet, but it is recorded as awaiting funds, which stops "please pay" (a second payment) while
  the debit clears (``policy.payment_clearing``).

Whatever is found is applied through the normal path (``apply_booking`` / ``apply_payment`` with
``Actor.system(source="reminder-live-check")``), so it is matched, audited and detected exactly
like a webhook. The caller then re-reads the registration's status to decide.

A provider that is not configured (development) is not asked. A provider error raises
``LiveCheckError``: the caller defers the reminder to the next scan rather than send blind. So does
a provider that hangs: each call waits at most ``WEBHOOK_HTTP_TIMEOUT`` (two tries), and no new
call starts once half of the worker's task timeout has gone (counted from the start of the task,
whose several reminders share it: ``one_task``), so the task is never killed mid-way.
"""

from __future__ import annotations

import contextvars
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings

from integrations.clients import AcuityClient, ProviderError, stripe_call, stripe_client
from integrations.parsing import appointment_to_signal, session_to_signal
from jlf.tasks import task_timeout
from registrations.audit import Actor
from registrations.identity import known_emails, normalise_email, split_emails
from registrations.models import EventMapping, Source
from registrations.services import apply_booking, apply_payment

log = logging.getLogger(__name__)

SOURCE = "reminder-live-check"
MAX_EMAILS = 3  # primary address plus a couple of learned aliases


class LiveCheckError(Exception):
    pass


@dataclass
class LiveCheck:
    asked: bool = False  # False: nothing to ask (provider not configured, nothing mapped)
    found: list[str] = field(default_factory=list)  # "Acuity appointment 123", "Stripe session cs_…"

    @property
    def summary(self) -> str:
        return ", ".join(self.found)


def _emails(attendee) -> list[str]:
    emails = sorted(known_emails(attendee), key=lambda e: (e != attendee.email, e))
    return [e for e in emails if e][:MAX_EMAILS]


def _mapped(event, kind) -> list[str]:
    return list(
        EventMapping.objects.filter(event=event, kind=kind, ignored=False)
        .order_by("pk")
        .values_list("value", flat=True)
    )


# When the running task (``one_task``) must stop starting calls: the live checks of all the
# reminders of one task share it, since the worker kills the task, not one reminder.
_task_ends: contextvars.ContextVar[float | None] = contextvars.ContextVar("live_check_task_ends", default=None)


@contextmanager
def one_task():
    """Around the reminders of one django-q2 task: together, their live checks start no call
    once half of Q_CLUSTER["timeout"] has gone (the later reminders wait for the next scan)."""
    token = _task_ends.set(time.monotonic() + task_timeout() / 2)
    try:
        yield
    finally:
        _task_ends.reset(token)


class _Deadline:
    """Calls of one live check stop starting once half of Q_CLUSTER["timeout"] has gone (since
    the check began, or since its task began, whichever comes first)."""

    def __init__(self, provider: str):
        self.provider = provider
        self.seconds = task_timeout() / 2
        self.ends = time.monotonic() + self.seconds
        task_ends = _task_ends.get()
        if task_ends is not None:
            self.ends = min(self.ends, task_ends)

    def check(self):
        if time.monotonic() > self.ends:
            raise LiveCheckError(
                f"{self.provider}: no answer within {self.seconds:.0f} s; asked again at the next scan"
            )


def _acuity() -> AcuityClient:
    t = settings.WEBHOOK_HTTP_TIMEOUT
    return AcuityClient(timeout=(min(3.0, t), t), attempts=2)


def _stripe():
    return stripe_client(timeout=settings.WEBHOOK_HTTP_TIMEOUT, max_network_retries=1)


def live_check(registration, missing: str, *, raw_ref: str = SOURCE) -> LiveCheck:
    if missing == "booking":
        return check_booking(registration, raw_ref=raw_ref)
    return check_payment(registration, raw_ref=raw_ref)


def check_booking(registration, *, raw_ref: str = SOURCE) -> LiveCheck:
    event, attendee = registration.event, registration.attendee
    types = _mapped(event, EventMapping.Kind.ACUITY_APPOINTMENT_TYPE)
    result = LiveCheck()
    if not settings.ACUITY_API_KEY or not types:
        return result
    result.asked = True
    emails = set(_emails(attendee))
    field_id = (event.acuity_reference_field_id or "").strip()
    client = _acuity()
    deadline = _Deadline("Acuity")
    seen: dict[str, dict] = {}
    try:
        for type_id in types:
            queries = [{"email": e} for e in sorted(emails)]
            if field_id:
                queries.append({f"field:{field_id}": registration.reference})
            for query in queries:
                deadline.check()
                for appt in client.list_appointments(appointmentTypeID=type_id, showall="true", max=25, **query) or []:
                    if _appointment_is_theirs(appt, emails, field_id, registration.reference):
                        seen[str(appt.get("id"))] = appt
    except ProviderError as exc:
        raise LiveCheckError(f"Acuity: {exc}") from exc
    actor = Actor.system(source=SOURCE)
    for appt_id, appt in sorted(seen.items()):
        apply_booking(appointment_to_signal(appt, raw_ref=raw_ref), actor, source=Source.RECONCILIATION)
        if not appt.get("canceled"):
            result.found.append(f"Acuity appointment {appt_id}")
    return result


def _appointment_is_theirs(appt: dict, emails: set[str], field_id: str, reference: str) -> bool:
    # Filter here as well as in the query: never apply someone else's appointment because an
    # API (or a fake) ignored a filter.
    if emails & set(split_emails(appt.get("email") or "")):
        return True
    if field_id:
        for form in appt.get("forms") or []:
            for value in form.get("values") or []:
                if str(value.get("fieldID")) == field_id and (value.get("value") or "").strip() == reference:
                    return True
    return False


def check_payment(registration, *, raw_ref: str = SOURCE) -> LiveCheck:
    event, attendee = registration.event, registration.attendee
    links = _mapped(event, EventMapping.Kind.STRIPE_PAYMENT_LINK)
    result = LiveCheck()
    if not settings.STRIPE_SECRET_KEY or not links:
        return result
    result.asked = True
    client = _stripe()
    deadline = _Deadline("Stripe")
    emails = _emails(attendee)
    paid: dict[str, dict] = {}
    try:
        for link in links:
            for email in emails:
                deadline.check()
                page = stripe_call(
                    "checkout.sessions.list",
                    client.v1.checkout.sessions.list,
                    params={
                        "payment_link": link,
                        "customer_details": {"email": email},
                        "expand": ["data.line_items"],
                        "limit": 20,
                    },
                )
                for session in page.data:
                    data = session.to_dict()
                    payer = normalise_email((data.get("customer_details") or {}).get("email") or "")
                    clearing = data.get("status") == "complete" and data.get("payment_status") == "unpaid"
                    if payer in emails and (data.get("payment_status") == "paid" or clearing):
                        paid[data["id"]] = data  # a clearing bank debit is recorded as awaiting funds
    except ProviderError as exc:
        raise LiveCheckError(f"Stripe: {exc}") from exc
    actor = Actor.system(source=SOURCE)
    for session_id, data in sorted(paid.items()):
        apply_payment(session_to_signal(data, raw_ref=raw_ref), actor, source=Source.RECONCILIATION)
        result.found.append(f"Stripe payment {session_id}")
    return result
