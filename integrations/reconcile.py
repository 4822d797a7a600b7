"""Reconciliation and backfill: nothing a webhook missed stays missed.

Steps of one run (``manage.py reconcile``, ``manage.py backfill``, the daily schedule):

1. Take the run lock (one run at a time: two would double the API calls against the providers'
   rate limits) and store a ``ReconcileRun`` with its options.
2. Per provider, in a background thread, list what the provider holds for each mapped event
   (``integrations.reconcile_sources``):
   - Stripe: completed Checkout Sessions per mapped payment link created in the window (line items
     expanded in the list answer), sessions of events mapped by price or metadata, then each
     session stored as unpaid that is older than the window (a bank debit that may have cleared
     since; at most AWAITING_FUNDS_DAYS old), one call each, then every
     refund created in the window (one call per 100 refunds, so refunds made directly in the
     dashboard are found without one payment-intent call per session), then every dispute created
     in the window (one call per 100 disputes: a dispute whose webhook was missed, or one that was
     closed since, is found the same way);
   - Acuity: appointments (``showall``: cancelled ones too) per mapped appointment type, by
     appointment date from (now - window) to the horizon — Acuity cannot filter by booking date,
     and a missed booking or cancellation is an appointment still to come.
3. In this thread, turn every record into a signal with the same parsers as the webhooks and
   apply it with the same functions (``apply_payment`` / ``apply_booking``, source
   ``reconciliation``, actor ``system:reconcile:<run id>``). There is no second code path: a
   record is only skipped without calling them when the stored facts already say everything it
   says ("known"); anything else goes through them and their answer decides new / changed / known.
   A dry run applies each record inside a transaction that is rolled back at once.
4. Count per event and provider (seen, known, new, changed, errors). A provider that fails after
   the client's retries stops for this run with a clear error; the other provider's results stay
   and the run ends ``partial``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from registrations.audit import Actor
from registrations.bookings import observed_values, reference_in
from registrations.identity import normalise_email
from registrations.models import Booking, Dispute, Event, EventMapping, Payment, Refund, Source
from registrations.money import format_money
from registrations.payments import FILLED_FIELDS
from registrations.services import REFUND_STATUS_RANK, apply_booking, apply_payment

from .clients import AcuityClient, NotFound, ProviderError, patience, stripe_call, stripe_client
from .models import ReconcileRun
from .parsing import (
    _ref,
    appointment_to_signal,
    dispute_to_signal,
    line_items_of,
    refund_to_signal,
    session_event_keys,
    session_to_signal,
)
from .reconcile_pool import ApplyPool, Outcome, usable
from .reconcile_report import _empty_counts, summary_line
from .reconcile_sources import (
    AcuityWalker,
    Prefetch,
    parse_since,
    stripe_dispute_pages,
    stripe_line_items,
    stripe_refund_pages,
    stripe_session_pages,
)

log = logging.getLogger(__name__)

PROVIDERS = ("stripe", "acuity")
MAX_STORED_ERRORS = 200
# A bank debit clears (or fails) within days; an unpaid session older than this is not asked about.
AWAITING_FUNDS_DAYS = 30
_LOCK_KEY = 0x4A4C465245434F  # pg advisory lock id ("JLFRECO")
_STRIPE_KINDS = {
    EventMapping.Kind.STRIPE_PAYMENT_LINK,
    EventMapping.Kind.STRIPE_PRICE,
    EventMapping.Kind.STRIPE_METADATA,
}


class ReconcileBusy(Exception):
    """Another run holds the lock."""


class ReconcileAborted(Exception):
    """Too many records in a row failed to apply: the database (not one record) is in trouble."""


MAX_ERRORS_IN_A_ROW = 50
# Records read but not yet applied by the apply processes, at most (then reading waits).
MAX_QUEUED_RECORDS = 2000
# A run waits out a provider's Retry-After of up to this many seconds per call (saying so on the
# progress line); a longer one stops that provider for this run. Far above what a webhook task may
# wait (clients.default_wait_budget): a run has no Q_CLUSTER["timeout"] to stay within (the command)
# or RECONCILE_TASK_TIMEOUT, an hour (the daily schedule).
MAX_RETRY_WAIT = 300.0


# --- Lock --------------------------------------------------------------------------------------
@contextmanager
def run_lock():
    """One run at a time, across processes and machines.

    PostgreSQL: a session advisory lock, released when the run ends or its connection dies, so a
    killed run never blocks the next one; runs still marked "running" without the lock are dead
    and are marked failed. SQLite (one machine, development): a run marked "running" that started
    less than RECONCILE_TASK_TIMEOUT ago blocks.
    """
    stale_msg = "interrupted: the process ended before the run finished"
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
            if not cur.fetchone()[0]:
                running = ReconcileRun.objects.filter(status=ReconcileRun.Status.RUNNING).first()
                raise ReconcileBusy(_busy_message(running))
        try:
            ReconcileRun.objects.filter(status=ReconcileRun.Status.RUNNING).update(
                status=ReconcileRun.Status.FAILED, finished_at=timezone.now(), errors=[{"message": stale_msg}]
            )
            yield
        finally:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
        return
    cutoff = timezone.now() - timedelta(seconds=settings.RECONCILE_TASK_TIMEOUT)
    running = ReconcileRun.objects.filter(status=ReconcileRun.Status.RUNNING)
    running.filter(started_at__lt=cutoff).update(
        status=ReconcileRun.Status.FAILED, finished_at=timezone.now(), errors=[{"message": stale_msg}]
    )
    if running.exists():
        raise ReconcileBusy(_busy_message(running.first()))
    yield


def _busy_message(run) -> str:
    which = f"run #{run.pk}, started {timezone.localtime(run.started_at):%Y-%m-%d %H:%M}" if run else "another run"
    return (
        f"Another reconciliation is still running ({which}). Two at once would double the API calls "
        "against the providers' rate limits; try again when it has finished."
    )


# --- What to reconcile -------------------------------------------------------------------------
@dataclass
class Plan:
    events: list[Event]
    providers: list[str]
    links: dict[str, str] = field(default_factory=dict)  # payment link id → event slug
    types: dict[str, str] = field(default_factory=dict)  # Acuity appointment type id → event slug
    keys: dict[tuple, str | None] = field(default_factory=dict)  # every (kind, value) → slug / None (ignored)
    other_stripe_keys: bool = False  # a selected event is mapped by price or metadata
    since: timedelta | None = None  # None: the whole history (backfill)
    stripe_created_gte: int | None = None
    acuity_windows: dict[str, tuple[date, date]] = field(default_factory=dict)  # type id → [lo, hi]

    mapped: dict[str, set] = field(default_factory=lambda: {p: set() for p in PROVIDERS})  # provider → slugs

    @property
    def slugs(self) -> list[str]:
        return [e.slug for e in self.events]


def make_plan(event_slugs=None, providers=None, since: timedelta | None = None) -> Plan:
    """Raises ValueError (a message for the operator) for an unknown slug or provider."""
    providers = list(providers or PROVIDERS)
    for p in providers:
        if p not in PROVIDERS:
            raise ValueError(f"Unknown provider {p!r}: use stripe or acuity.")
    mappings = list(EventMapping.objects.select_related("event"))
    if event_slugs:
        events = list(Event.objects.filter(slug__in=event_slugs))
        missing = sorted(set(event_slugs) - {e.slug for e in events})
        if missing:
            raise ValueError(f"No event with slug {', '.join(missing)}.")
    else:
        events = list(Event.objects.filter(pk__in={m.event_id for m in mappings if m.event_id and not m.ignored}))
    events.sort(key=lambda e: (e.starts_at, e.slug))
    plan = Plan(events=events, providers=providers, since=since)
    selected = {e.pk: e for e in events}
    for m in mappings:
        plan.keys[(m.kind, m.value)] = None if m.ignored or m.event_id is None else m.event.slug
        if m.ignored or m.event_id not in selected:
            continue
        plan.mapped["acuity" if m.kind == EventMapping.Kind.ACUITY_APPOINTMENT_TYPE else "stripe"].add(m.event.slug)
        if m.kind == EventMapping.Kind.STRIPE_PAYMENT_LINK:
            plan.links[m.value] = m.event.slug
        elif m.kind == EventMapping.Kind.ACUITY_APPOINTMENT_TYPE:
            plan.types[m.value] = m.event.slug
        elif m.kind in _STRIPE_KINDS:
            plan.other_stripe_keys = True
    now = timezone.now()
    if since is not None:
        plan.stripe_created_gte = int((now - since).timestamp())
        lo = (now - since).date() - timedelta(days=1)
    else:
        lo = date.fromisoformat(settings.RECONCILE_BACKFILL_EARLIEST)
    horizon = (now + timedelta(days=settings.RECONCILE_ACUITY_HORIZON_DAYS)).date()
    for type_id, slug in plan.types.items():
        event = next(e for e in events if e.slug == slug)
        end = max(horizon, (event.ends_at or event.starts_at).date()) + timedelta(days=1)
        plan.acuity_windows[type_id] = (lo, end)
    return plan


# --- The run -----------------------------------------------------------------------------------
def _money(amount, currency) -> str:
    return "" if amount is None else format_money(amount, currency)


class Reconciler:
    """One run. ``on_change(verb, provider, slug, text)`` hears every new/changed record (verb is
    "add"/"change", prefixed "would " in a dry run); ``on_progress(text)`` hears about each page;
    ``on_wait(seconds, text)`` hears when a provider's answer makes the run wait (429/5xx,
    ``Retry-After``), from the thread that waits. Each call waits at most ``max_retry_wait``
    seconds in all."""

    def __init__(
        self,
        plan: Plan,
        *,
        kind: str = "reconcile",
        dry_run: bool = False,
        options: dict | None = None,
        on_change: Callable | None = None,
        on_progress: Callable | None = None,
        on_wait: Callable | None = None,
        acuity_client: AcuityClient | None = None,
        max_retry_wait: float | None = None,
        processes: int = 1,
    ):
        self.plan = plan
        self.processes = processes
        self.kind = kind
        self.dry_run = dry_run
        self.options = options or {}
        self.on_change = on_change or (lambda *a: None)
        self.on_progress = on_progress or (lambda text: None)
        self.on_wait = on_wait or (lambda seconds, text: None)
        self.max_retry_wait = MAX_RETRY_WAIT if max_retry_wait is None else max_retry_wait
        self._wait_note: tuple[float, str] | None = None  # (until, text) while a provider makes us wait
        self.acuity_client = acuity_client
        self.counts: dict[str, dict[str, dict]] = {}
        self.errors: list[dict] = []
        self.error_total = 0
        self.failed: set[str] = set()
        self._pi_events: dict[str, str] = {}  # payment intent → slug, for refunds and disputes
        self._new_pis: set[str] = set()
        self._seen: dict[str, set] = {"stripe": set(), "acuity": set(), "refund": set(), "dispute": set()}
        self._started = time.monotonic()
        self._slugs = set(plan.slugs)
        self._failures_in_a_row = 0
        self._awaiting: list[tuple[str, str]] = []  # (session id, slug): unpaid, older than the window
        self.run: ReconcileRun | None = None
        self.pool: ApplyPool | None = None  # several processes apply the records (reconcile_pool)

    # counting ----------------------------------------------------------------------------------
    def _c(self, slug: str, provider: str) -> dict:
        return self.counts.setdefault(slug, {}).setdefault(provider, _empty_counts())

    def _error(self, provider: str, slug: str | None, message: str, *, record: bool = True):
        self.error_total += 1
        if slug and record:
            self._c(slug, provider)["errors"] += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"provider": provider, "event": slug, "message": message[:1000]})
        log.warning("reconcile %s %s: %s", provider, slug or "-", message)

    def _progress(self):
        totals = {p: sum(c.get(p, {}).get("seen", 0) for c in self.counts.values()) for p in self.plan.providers}
        parts = [f"{p} {n:,}" for p, n in totals.items()]
        text = f"{' · '.join(parts)} records · {time.monotonic() - self._started:,.0f} s"
        note = self._wait_note
        if note is not None and time.monotonic() < note[0]:
            text += f" · {note[1]}"
        self.on_progress(text)

    def _waiting(self, seconds: float, text: str):
        """A provider call is about to sleep (called from the thread that sleeps)."""
        self._wait_note = (time.monotonic() + seconds, text)
        self.on_wait(seconds, text)

    # applying ----------------------------------------------------------------------------------
    def _apply(self, provider: str, slug: str, signal, what: str):
        """Through the one code path; in a dry run, inside a transaction rolled back at once (per
        record, so no row lock outlives the record and webhooks are never held up)."""
        fn = apply_payment if provider == "stripe" else apply_booking
        actor = Actor.system(source=self._source)
        try:
            if self.dry_run:
                with transaction.atomic():
                    result = fn(signal, actor=actor, source=Source.RECONCILIATION)
                    transaction.set_rollback(True)
            else:
                result = fn(signal, actor=actor, source=Source.RECONCILIATION)
        except Exception as exc:  # one bad record must not stop the run; it is counted and listed
            log.exception("reconcile: applying %s failed", what)
            self._failed(provider, slug, what, f"{type(exc).__name__}: {exc}")
            return None
        self._failures_in_a_row = 0
        return result

    @property
    def _source(self) -> str:
        return f"reconcile:{self.run.pk}"

    def _failed(self, provider: str, slug: str, what: str, error: str):
        self._error(provider, slug, f"{what}: {error}")
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= MAX_ERRORS_IN_A_ROW:
            raise ReconcileAborted(
                f"stopped after {MAX_ERRORS_IN_A_ROW} records in a row failed to apply (last: {what}: "
                f"{error}); this is not one bad record — check the database and the logs."
            )

    def _apply_and_count(self, provider: str, slug: str, signal, what: str, text: str, pi: str = ""):
        """Apply one record and count it as the apply function saw it: created → new, changed
        fields → changed (listed after ``text``), neither → known. With several processes
        (``self.pool``) the record is sent to one of them and counted when its outcome comes
        back (``_collect``); ``pi``, the payment intent of a session, is remembered as new then."""
        if self.pool is not None:
            self.pool.submit(slug, provider, signal, self._source, what, (provider, slug, what, text, pi))
            # Reading runs ahead of applying; a backfill of months must not hold every record in memory.
            self._collect(block=len(self.pool.pending) > MAX_QUEUED_RECORDS, until=MAX_QUEUED_RECORDS // 2)
            return
        result = self._apply(provider, slug, signal, what)
        if result is not None:
            self._count(provider, slug, text, Outcome(created=result.created, changed=tuple(result.changed)), pi)

    def _collect(self, block: bool = False, until: int = 0):
        """Count the outcomes the apply processes sent back (with ``block``: wait until no more
        than ``until`` records are still being applied)."""
        if self.pool is None:
            return
        for (provider, slug, what, text, pi), outcome in self.pool.done(block, until):
            if outcome.error:
                self._failed(provider, slug, what, outcome.error)
            else:
                self._failures_in_a_row = 0
                self._count(provider, slug, text, outcome, pi)

    def _count(self, provider: str, slug: str, text: str, outcome: Outcome, pi: str):
        kind = "new" if outcome.created else "changed" if outcome.changed else "known"
        if kind == "changed":
            text += f" ({', '.join(outcome.changed)})"
        self._outcome(provider, slug, kind, text)
        if outcome.created and pi:
            self._new_pis.add(pi)

    def _outcome(self, provider: str, slug: str, outcome: str, text: str):
        self._c(slug, provider)[outcome] += 1
        if outcome in ("new", "changed"):
            verb = "add" if outcome == "new" else "change"
            self.on_change(f"would {verb}" if self.dry_run else verb, provider, slug, text)

    # Stripe ------------------------------------------------------------------------------------
    def _stripe_stream(self):
        client = stripe_client()
        for link, slug in self.plan.links.items():
            for page in stripe_session_pages(client, payment_link=link, created_gte=self.plan.stripe_created_gte):
                yield "sessions", slug, page
        if self.plan.other_stripe_keys:
            # Events mapped by price or metadata: the list has no such filter, so every session
            # in the window is read and kept when its keys map to a selected event.
            for page in stripe_session_pages(client, payment_link=None, created_gte=self.plan.stripe_created_gte):
                yield "sessions", None, page
        for sid, slug in self._awaiting:
            try:
                session = stripe_call(
                    "checkout.sessions.retrieve",
                    client.v1.checkout.sessions.retrieve,
                    sid,
                    params={"expand": ["line_items"]},
                )
            except NotFound:
                continue
            yield "sessions", slug, [session.to_dict()]
        for page in stripe_refund_pages(client, created_gte=self.plan.stripe_created_gte):
            yield "refunds", None, page
        for page in stripe_dispute_pages(client, created_gte=self.plan.stripe_created_gte):
            yield "disputes", None, (timezone.now(), page)

    def _awaiting_funds(self) -> list[tuple[str, str]]:
        """Sessions of the selected events stored as unpaid (a bank debit waiting to clear) and
        created before the window: the listing by creation date no longer shows them, so a missed
        ``async_payment_succeeded`` would never be found. Each is asked about by id. (A failed
        debit leaves the session ``unpaid``: only its webhook says "failed".)
        Not in a backfill, which lists every session anyway. Read here, in the run's thread (the
        Stripe listing runs in a thread that must not touch the database)."""
        if self.plan.since is None or "stripe" not in self.plan.providers:
            return []
        now = timezone.now()
        return list(
            Payment.objects.filter(
                state=Payment.State.UNPAID,
                checkout_session_id__isnull=False,
                event__slug__in=self.plan.mapped["stripe"],
                occurred_at__lt=now - self.plan.since,
                occurred_at__gte=now - timedelta(days=AWAITING_FUNDS_DAYS),
            )
            .order_by("occurred_at")
            .values_list("checkout_session_id", "event__slug")
        )

    def _slug_for_keys(self, keys) -> str | None:
        """The first mapped key decides, as in ``registrations.services.resolve_event``."""
        for key in keys:
            if (key[0], str(key[1])) in self.plan.keys:
                slug = self.plan.keys[(key[0], str(key[1]))]
                if slug is not None:
                    return slug if slug in self._slugs else None
        return None

    def _stripe_sessions(self, link_slug: str | None, sessions: list[dict], client):
        ids = [s["id"] for s in sessions if s.get("id")]
        stored = {p.checkout_session_id: p for p in Payment.objects.filter(checkout_session_id__in=ids)}
        for session in sessions:
            sid = session.get("id")
            if not sid or sid in self._seen["stripe"]:
                continue
            items = line_items_of(session)
            slug = link_slug or self._slug_for_keys(session_event_keys(session, items))
            if slug is None:
                continue
            self._seen["stripe"].add(sid)
            counts = self._c(slug, "stripe")
            counts["seen"] += 1
            payment = stored.get(sid)
            has_more = isinstance(session.get("line_items"), dict) and session["line_items"].get("has_more")
            # Stored without its line items (the handoff page saw only a first page): fetch them too.
            needs_items = payment is None or (not payment.line_items and payment.quantity is None)
            if needs_items and (items is None or has_more):
                try:
                    items = stripe_line_items(client, sid)
                except ProviderError as exc:
                    self._error("stripe", slug, f"line items of {sid}: {exc}")
                    continue
            try:
                signal = session_to_signal(session, line_items=items, raw_ref=f"reconcile:{self.run.pk}")
            except ValueError as exc:
                self._error("stripe", slug, f"session {sid}: {exc}")
                continue
            if signal.payment_intent_id:
                self._pi_events[signal.payment_intent_id] = slug
            if payment is not None and payment.state == Payment.State.UNPAID and signal.status == "paid":
                # A bank debit that cleared while its webhook was missed: it cleared by now at the
                # latest (a webhook's exact time, earlier, wins when it comes). The duplicate rule
                # needs it to see an attendee who paid again while the debit cleared.
                signal = dataclasses.replace(signal, cleared_at=timezone.now())
            if payment is not None and not payment_needs_apply(payment, signal):
                counts["known"] += 1
                continue
            text = f"payment {sid} {signal.email} {signal.status} {_money(signal.amount, signal.currency)}".strip()
            self._apply_and_count("stripe", slug, signal, f"session {sid}", text, signal.payment_intent_id or "")

    def _stripe_refunds(self, refunds: list[dict]):
        pis = {_ref(r.get("payment_intent")) for r in refunds} - {""}
        by_db = dict(
            Payment.objects.filter(payment_intent_id__in=pis, event__slug__in=self.plan.slugs).values_list(
                "payment_intent_id", "event__slug"
            )
        )
        stored = {r.refund_id: r for r in Refund.objects.filter(refund_id__in=[r.get("id") for r in refunds])}
        for refund in refunds:
            rid, pi = refund.get("id"), _ref(refund.get("payment_intent"))
            slug = self._pi_events.get(pi) or by_db.get(pi)
            if not rid or slug is None or rid in self._seen["refund"]:
                continue  # a refund of a payment that is not one of the selected events'
            self._seen["refund"].add(rid)
            counts = self._c(slug, "stripe")
            counts["seen"] += 1
            signal = refund_to_signal(refund, raw_ref=f"reconcile:{self.run.pk}")
            known = stored.get(rid)
            if (
                known is not None
                and known.payment_id is not None
                and known.amount >= signal.amount_refunded
                and REFUND_STATUS_RANK.get(signal.refund_status, 0) <= REFUND_STATUS_RANK.get(known.status, 0)
            ):
                counts["known"] += 1
                continue
            result = self._apply("stripe", slug, signal, f"refund {rid}")
            if result is None:
                continue
            # A refund changes what we know when it moves the payment's refunded total (or its
            # payment is itself new in this run, which a dry run has rolled back). A refund we
            # only knew as a charge's cumulative total gets its own row but changes nothing.
            moved = "amount_refunded" in result.changed or (not result.created and bool(result.changed))
            if moved or (result.created and pi in self._new_pis):
                text = f"refund {rid} of {pi} {_money(signal.amount_refunded, signal.currency)}"
                self._outcome("stripe", slug, "changed", text)
            else:
                counts["known"] += 1

    def _stripe_disputes(self, observed_at: datetime, disputes: list[dict]):
        """Disputes of payments of the selected events (known from the database, or listed as
        sessions earlier in this run: a dispute whose payment is not stored yet is still applied,
        and kept until its payment arrives). A dispute carries no time of its last status change,
        so its status is dated when the list answered: a webhook that reports a later change
        still wins, an older one cannot undo what the list said."""
        if not disputes:
            return
        pis = {_ref(d.get("payment_intent")) for d in disputes} - {""}
        charges = {_ref(d.get("charge")) for d in disputes} - {""}
        by_pi: dict[str, str] = {}
        by_charge: dict[str, str] = {}
        rows = Payment.objects.filter(
            Q(payment_intent_id__in=pis) | Q(charge_id__in=charges), event__slug__in=self.plan.slugs
        ).values_list("payment_intent_id", "charge_id", "event__slug")
        for pi, charge, slug in rows:
            if pi:
                by_pi[pi] = slug
            if charge:
                by_charge[charge] = slug
        stored = {d.dispute_id: d for d in Dispute.objects.filter(dispute_id__in=[d.get("id") for d in disputes])}
        for dispute in disputes:
            did, pi, charge = dispute.get("id"), _ref(dispute.get("payment_intent")), _ref(dispute.get("charge"))
            slug = self._pi_events.get(pi) or by_pi.get(pi) or by_charge.get(charge)
            if not did or slug is None or did in self._seen["dispute"]:
                continue  # a dispute of a payment that is not one of the selected events'
            self._seen["dispute"].add(did)
            counts = self._c(slug, "stripe")
            counts["seen"] += 1
            signal = dispute_to_signal(dispute, raw_ref=f"reconcile:{self.run.pk}", occurred_at=observed_at)
            known = stored.get(did)
            if known is not None and known.payment_id is not None and known.status == signal.dispute_status:
                counts["known"] += 1
                continue
            text = (
                f"dispute {did} of {pi or charge} {_money(signal.amount, signal.currency)} "
                f"{signal.dispute_status} (reason: {signal.reason or 'not given'})"
            )
            self._apply_and_count("stripe", slug, signal, f"dispute {did}", text)

    # Acuity ------------------------------------------------------------------------------------
    def _acuity_stream(self):
        walker = AcuityWalker(self.acuity_client or AcuityClient())
        for type_id, slug in self.plan.types.items():
            lo, hi = self.plan.acuity_windows[type_id]
            for kind, payload in walker.walk(type_id, lo, hi):
                yield kind, slug, ((timezone.now(), payload) if kind == "page" else payload)

    def _acuity_page(self, slug: str, fetched_at: datetime, appointments: list[dict]):
        ids = [str(a.get("id")) for a in appointments]
        stored = {b.acuity_appointment_id: b for b in Booking.objects.filter(acuity_appointment_id__in=ids)}
        for appt in appointments:
            aid = str(appt.get("id"))
            if aid in self._seen["acuity"]:
                continue  # the walk reads a boundary day twice
            self._seen["acuity"].add(aid)
            counts = self._c(slug, "acuity")
            counts["seen"] += 1
            try:
                signal = appointment_to_signal(appt, raw_ref=f"reconcile:{self.run.pk}", observed_at=fetched_at)
            except ValueError as exc:
                self._error("acuity", slug, f"appointment {aid}: {exc}")
                continue
            booking = stored.get(aid)
            if booking is not None and not booking_needs_apply(booking, signal):
                counts["known"] += 1
                continue
            when = f"{signal.starts_at:%Y-%m-%d %H:%M}" if signal.starts_at else "no time"
            text = f"booking {aid} {signal.email} {when} {signal.status}"
            self._apply_and_count("acuity", slug, signal, f"appointment {aid}", text)

    # driving -----------------------------------------------------------------------------------
    def _consume(self, provider: str, stream: Prefetch):
        client = stripe_client() if provider == "stripe" else None
        try:
            for kind, slug, payload in stream:
                if kind == "sessions":
                    self._stripe_sessions(slug, payload, client)
                elif kind == "refunds":
                    self._collect(block=True)  # they look at the payments the sessions just added
                    self._stripe_refunds(payload)
                elif kind == "disputes":
                    self._collect(block=True)
                    self._stripe_disputes(*payload)
                elif kind == "page":
                    self._acuity_page(slug, *payload)
                elif kind == "warning":
                    self._error(provider, slug, payload)
                self._progress()
        except ProviderError as exc:
            self.failed.add(provider)
            name = provider.capitalize()
            self._error(
                provider,
                None,
                f"{name} failed: {exc}. {name} results of this run are incomplete (what was read before "
                f"the failure is applied); the next run will try again.",
            )
        finally:
            stream.close()

    def execute(self) -> ReconcileRun:
        if not self.dry_run and usable(self.processes):
            self.pool = ApplyPool(self.processes)  # forked first: no connection open, no lock held yet
        try:
            return self._execute()
        finally:
            if self.pool is not None:
                self.pool.close()

    def _execute(self) -> ReconcileRun:
        # patience: the listing threads (Prefetch) copy this context, so their calls get it too.
        with run_lock(), patience(self.max_retry_wait, self._waiting):
            self.run = ReconcileRun.objects.create(
                kind=self.kind, options=self.options, dry_run=self.dry_run, status=ReconcileRun.Status.RUNNING
            )
            for event in self.plan.events:
                for provider in self.plan.providers:
                    if event.slug in self.plan.mapped[provider]:
                        self._c(event.slug, provider)
            streams: dict[str, Prefetch] = {}
            try:
                self._awaiting = self._awaiting_funds()
                for provider in self.plan.providers:
                    problem = _not_configured(provider)
                    if problem:
                        self._error(provider, None, problem, record=False)
                        self.failed.add(provider)
                        continue
                    gen = self._stripe_stream() if provider == "stripe" else self._acuity_stream()
                    streams[provider] = Prefetch(gen, name=f"reconcile-{provider}")
                for provider, stream in streams.items():
                    self._consume(provider, stream)
                    self._collect(block=True)  # what was read before a provider failed is applied too
                    self._save(final=False)
            except ReconcileAborted as exc:
                self._error("-", None, str(exc), record=False)
                self._save(final=True, status=ReconcileRun.Status.FAILED)
                return self.run
            except BaseException as exc:
                self._error("-", None, f"run aborted: {type(exc).__name__}: {exc}", record=False)
                self.run.status = ReconcileRun.Status.FAILED
                self._save(final=True, status=ReconcileRun.Status.FAILED)
                raise
            finally:
                for stream in streams.values():
                    stream.close()
            self._save(final=True)
        return self.run

    def _status(self) -> str:
        if self.plan.providers and self.failed >= set(self.plan.providers):
            return ReconcileRun.Status.FAILED
        if self.failed or self.error_total:
            return ReconcileRun.Status.PARTIAL
        return ReconcileRun.Status.OK

    def _save(self, *, final: bool, status: str | None = None):
        run = self.run
        run.counts = self.counts
        run.errors = self.errors + (
            [{"message": f"… and {self.error_total - len(self.errors)} more errors (see the logs)"}]
            if self.error_total > len(self.errors)
            else []
        )
        fields = ["counts", "errors"]
        if final:
            run.status = status or self._status()
            run.finished_at = timezone.now()
            fields += ["status", "finished_at"]
        run.save(update_fields=fields)


def _not_configured(provider: str) -> str:
    if provider == "stripe" and not settings.STRIPE_SECRET_KEY:
        return "Stripe is not configured (STRIPE_SECRET_KEY is empty): nothing was checked."
    if provider == "acuity" and not (settings.ACUITY_API_KEY and settings.ACUITY_USER_ID):
        return "Acuity is not configured (ACUITY_USER_ID / ACUITY_API_KEY empty): nothing was checked."
    return ""


# --- "Known and unchanged" without calling apply -------------------------------------------------
# Conservative by design: these only answer False when every value the record carries is already
# stored exactly as-is. Any doubt (a different value, a fact not yet attached to a registration)
# answers True and the apply function decides, so a wrong answer can cost time, never a change.
def payment_needs_apply(payment: Payment, signal) -> bool:
    if payment.event_id is None or (payment.registration_id is None and payment.state != Payment.State.EXPIRED):
        return True
    if signal.status != payment.state:
        return True
    purged = payment.personal_data_removed_at is not None  # its contact details stay removed
    for attr in FILLED_FIELDS:
        value = getattr(signal, attr)
        if purged and attr in Payment.PERSONAL_FIELDS:
            continue
        if value not in (None, "") and value != getattr(payment, attr):
            return True
    if not purged and signal.email and normalise_email(signal.email) != payment.email:
        return True
    if signal.livemode and not payment.livemode:
        return True
    stored_keys = {tuple(map(str, k)) for k in payment.mapping_keys or []}
    if {tuple(map(str, k)) for k in signal.event_keys} - stored_keys:
        return True
    return bool(signal.occurred_at and (payment.occurred_at is None or signal.occurred_at < payment.occurred_at))


def booking_needs_apply(booking: Booking, signal) -> bool:
    if booking.event_id is None or booking.registration_id is None:
        return True
    skip = Booking.PERSONAL_FIELDS if booking.personal_data_removed_at else ()  # purged: stays removed
    if any(getattr(booking, a) != v for a, v in observed_values(signal).items() if a not in skip):
        return True
    if (signal.status == "cancelled") != booking.cancelled:
        return True
    ref = reference_in(signal)
    if ref and ref != booking.intake_reference:
        return True
    stored_keys = {tuple(map(str, k)) for k in booking.mapping_keys or []}
    return bool({tuple(map(str, k)) for k in signal.event_keys} - stored_keys)


# --- Entry points ------------------------------------------------------------------------------
def reconcile(
    *,
    kind: str = "reconcile",
    since: timedelta | None,
    event_slugs=None,
    providers=None,
    dry_run: bool = False,
    options: dict | None = None,
    on_change: Callable | None = None,
    on_progress: Callable | None = None,
    on_wait: Callable | None = None,
    acuity_client: AcuityClient | None = None,
    max_retry_wait: float | None = None,
    processes: int = 1,
) -> ReconcileRun:
    """Run one reconciliation (``since=None``: the whole history, i.e. a backfill).
    Raises ValueError for bad options and ReconcileBusy when another run holds the lock.
    ``processes`` > 1 applies the records in that many forked processes (``reconcile_pool``; the
    commands pass RECONCILE_APPLY_PROCESSES; the daily task applies in its own process)."""
    plan = make_plan(event_slugs, providers, since)
    opts = {
        "since": None if since is None else f"{since.total_seconds() / 86400:g}d",
        "events": plan.slugs,
        "unmapped_events": [e.slug for e in plan.events if not any(e.slug in plan.mapped[p] for p in plan.providers)],
        "providers": plan.providers,
        "stripe_created_gte": plan.stripe_created_gte,
        "acuity_windows": {t: [lo.isoformat(), hi.isoformat()] for t, (lo, hi) in plan.acuity_windows.items()},
        **(options or {}),
    }
    return Reconciler(
        plan,
        kind=kind,
        dry_run=dry_run,
        options=opts,
        on_change=on_change,
        on_progress=on_progress,
        on_wait=on_wait,
        acuity_client=acuity_client,
        max_retry_wait=max_retry_wait,
        processes=processes,
    ).execute()


def scheduled_reconcile() -> str:
    """The daily django-q2 schedule (``integrations.schedules``). Never raises for a provider
    problem: a failed task would be retried whole by the worker; the run row records it instead."""
    try:
        since = settings.RECONCILE_SINCE
        # A task: it waits out a Retry-After only well inside its own timeout.
        wait = min(MAX_RETRY_WAIT, settings.RECONCILE_TASK_TIMEOUT / 6)
        run = reconcile(kind="scheduled", since=parse_since(since), options={"since": since}, max_retry_wait=wait)
    except ReconcileBusy as exc:
        log.info("scheduled reconciliation skipped: %s", exc)
        return f"skipped: {exc}"
    line = summary_line(run)
    (log.info if run.status == ReconcileRun.Status.OK else log.error)("scheduled reconciliation: %s", line)
    return line
