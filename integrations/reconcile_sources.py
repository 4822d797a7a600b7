"""What reconciliation asks the providers: paged listings, and nothing else (no database here).

Each listing is a generator of pages so the engine (``integrations.reconcile``) can run it in a
background thread (``Prefetch``): the client's rate-limit pacing then sleeps while the main
thread applies the previous page, instead of the two adding up.

Every call goes through ``integrations.clients`` (``stripe_call`` / ``AcuityClient``), which keep
the pace under the providers' limits (Stripe 25 requests/s per endpoint, Acuity 10/s) and back off
on 429 honouring ``Retry-After``. A call that still fails raises ``ProviderError``.
"""

from __future__ import annotations

import contextvars
import queue
import re
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from django.utils import timezone

from .clients import AcuityClient, ProviderError, stripe_call

STRIPE_PAGE = 100  # Stripe's maximum `limit`
ACUITY_PAGE = 100  # Acuity's `max`: a list answer never holds more, and there is no cursor

_SINCE_RE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str) -> timedelta:
    """``"3d"``, ``"12h"``, ``"90m"``, ``"2w"``, or a date (``2026-11-01``) meaning "since then"."""
    match = _SINCE_RE.match(value or "")
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        if amount <= 0:
            raise ValueError("the window must be longer than zero")
        return timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise ValueError(f"{value!r} is not a window: use e.g. 3d, 12h, 90m, 2w or a date like 2026-11-01") from None
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when >= timezone.now():
        raise ValueError(f"{value!r} is in the future")
    return timezone.now() - when


# --- Stripe ------------------------------------------------------------------------------------
def _stripe_pages(endpoint: str, list_fn, params: dict) -> Iterator[list[dict]]:
    """Page through a Stripe list with ``starting_after``, one paced call per page.

    This is what ``auto_paging_iter()`` does, but the SDK's iterator fetches the next page itself,
    outside ``stripe_call``: its calls would be neither paced nor retried on 429.
    """
    params = {**params, "limit": STRIPE_PAGE}
    while True:
        page = stripe_call(endpoint, list_fn, params=params)
        data = [item.to_dict() for item in page.data]
        yield data
        if not page.has_more or not data:
            return
        params = {**params, "starting_after": data[-1]["id"]}


def stripe_session_pages(client, *, payment_link: str | None, created_gte: int | None) -> Iterator[list[dict]]:
    """Completed Checkout Sessions, newest first, with their line items in the same answer.

    ``status=complete`` leaves out sessions still open (a visitor on the checkout page) and
    abandoned ones; whether a complete session is paid is ``payment_status``'s call, not
    ``status``'s (a bank debit completes unpaid). ``expand: data.line_items`` costs nothing extra:
    one call per 100 sessions, where the per-session line-items endpoint would be one call each
    (10,000 sessions at 20/s = 500 s).
    """
    params: dict = {"status": "complete", "expand": ["data.line_items"]}
    if payment_link:
        params["payment_link"] = payment_link
    if created_gte is not None:
        params["created"] = {"gte": created_gte}
    yield from _stripe_pages("checkout.sessions.list", client.v1.checkout.sessions.list, params)


def _created_in_window_pages(endpoint: str, method, created_gte: int | None) -> Iterator[list[dict]]:
    params: dict = {}
    if created_gte is not None:
        params["created"] = {"gte": created_gte}
    yield from _stripe_pages(endpoint, method, params)


def stripe_refund_pages(client, *, created_gte: int | None) -> Iterator[list[dict]]:
    """Every refund created in the window (the whole account: refunds have no payment-link filter)."""
    yield from _created_in_window_pages("refunds.list", client.v1.refunds.list, created_gte)


def stripe_dispute_pages(client, *, created_gte: int | None) -> Iterator[list[dict]]:
    """Every dispute created in the window (the whole account: the list filters only by
    ``charge``, ``payment_intent`` and ``created``), newest first."""
    yield from _created_in_window_pages("disputes.list", client.v1.disputes.list, created_gte)


def stripe_line_items(client, session_id: str) -> list[dict]:
    """The per-session fallback, for a listed session that came without its line items."""
    items: list[dict] = []
    params: dict = {"limit": STRIPE_PAGE}
    while True:
        page = stripe_call(
            "checkout.sessions.line_items", client.v1.checkout.sessions.line_items.list, session_id, params=params
        )
        data = [item.to_dict() for item in page.data]
        items.extend(data)
        if not page.has_more or not data:
            return items
        params = {**params, "starting_after": data[-1]["id"]}


# --- Acuity ------------------------------------------------------------------------------------
def appointment_day(appt: dict) -> date | None:
    """The appointment's own calendar day (``datetime`` is the only ISO field)."""
    try:
        return datetime.fromisoformat(appt["datetime"]).date()
    except (KeyError, TypeError, ValueError):
        return None


class AcuityWalker:
    """All appointments of one type with appointment dates in [lo, hi], despite a page cap of 100
    and no cursor.

    ``GET /appointments`` answers newest first (``direction=DESC``) and at most ``max=100``. An
    answer with fewer than 100 is the whole window. A full answer holds the 100 latest, so it is
    complete for every day after its oldest day: the next call asks for [lo, oldest day] (that
    boundary day is read again, because it may have been cut; duplicates are dropped by id).
    This walk keeps every page it pays for; bisecting the window instead throws a full answer away
    and asks for both halves again, about twice the calls at 8 requests/s.

    When a full answer is all one day, dates cannot be split further: the day is asked per
    calendar (``calendarID``, from ``GET /calendars``), and a calendar-day that is still full is
    asked as active (``canceled=false``) and cancelled (``canceled=true``) separately. If one of
    those is still full (100+ people booked into one calendar on one day), Acuity offers no way to
    reach the rest: the page is kept and a warning says exactly which type, day and calendar may
    be incomplete, so the run ends "partial" rather than pretending to be complete.

    Yields ``("page", appointments)`` and ``("warning", message)``.
    """

    def __init__(self, client: AcuityClient):
        self.client = client
        self._calendars: list | None = None
        self.calls = 0

    def _list(self, **params) -> list[dict]:
        self.calls += 1
        answer = self.client.list_appointments(max=ACUITY_PAGE, direction="DESC", **params)
        if not isinstance(answer, list):
            raise ProviderError("acuity", f"GET /appointments answered {type(answer).__name__}, not a list")
        return answer

    def calendar_ids(self) -> list:
        if self._calendars is None:
            self.calls += 1
            self._calendars = sorted({c["id"] for c in self.client.list_calendars() if c.get("id") is not None})
        return self._calendars

    def walk(self, type_id: str, lo: date, hi: date) -> Iterator[tuple[str, object]]:
        upper = hi
        while upper >= lo:
            page = self._list(
                appointmentTypeID=type_id, minDate=lo.isoformat(), maxDate=upper.isoformat(), showall="true"
            )
            yield "page", page
            if len(page) < ACUITY_PAGE:
                return
            days = [d for d in map(appointment_day, page) if d is not None]
            oldest = min(days) if days else upper
            if oldest >= upper:
                yield from self._full_day(type_id, upper)
                upper -= timedelta(days=1)
            else:
                upper = oldest

    def _full_day(self, type_id: str, day: date) -> Iterator[tuple[str, object]]:
        calendars = self.calendar_ids()
        splits = [{"calendarID": c} for c in calendars] if len(calendars) > 1 else [{}]
        common = {"appointmentTypeID": type_id, "minDate": day.isoformat(), "maxDate": day.isoformat()}
        for split in splits:
            if split:
                page = self._list(**common, **split, showall="true")
                yield "page", page
                if len(page) < ACUITY_PAGE:
                    continue
            for cancelled in ("false", "true"):
                page = self._list(**common, **split, canceled=cancelled)
                yield "page", page
                if len(page) >= ACUITY_PAGE:
                    where = f"calendar {split['calendarID']}" if split else "its only calendar"
                    state = "cancelled" if cancelled == "true" else "active"
                    yield (
                        "warning",
                        f"Acuity appointment type {type_id} has {ACUITY_PAGE} or more {state} appointments on "
                        f"{day.isoformat()} in {where}. Acuity's list has no cursor and returns at most "
                        f"{ACUITY_PAGE}, so appointments beyond those may have been missed on that day.",
                    )


# --- Background fetching -----------------------------------------------------------------------
class Prefetch:
    """Run a generator in a daemon thread; iterate its items (or its exception) in this thread.

    The generator must not touch the database (each thread has its own connection). The queue is
    unbounded so an abandoned consumer can never leave the producer blocked; ``close()`` asks the
    producer to stop at its next item. The generator runs in a copy of the creating thread's
    context (``contextvars``), so ``clients.patience`` around the creation applies to its calls.
    """

    def __init__(self, generator, name: str = "prefetch"):
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._produce, generator), name=name, daemon=True)
        self._thread.start()

    def _produce(self, generator):
        try:
            for item in generator:
                if self._stop.is_set():
                    return
                self._queue.put(("item", item))
            self._queue.put(("done", None))
        except BaseException as exc:  # handed to the consumer, which decides
            self._queue.put(("error", exc))

    def __iter__(self):
        while True:
            kind, value = self._queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value

    def close(self):
        self._stop.set()
