"""Apply a reconciliation's records in several processes (``RECONCILE_APPLY_PROCESSES``).

A first run or a backfill applies thousands of records, each through ``apply_payment`` /
``apply_booking`` (the one code path). That is CPU work in Python, so one process uses one core
however many the machine has; this spreads the records over forked processes, each with its own
database connection. The records are the same, the functions are the same, and what each one
did comes back to the run, which counts it as before.

* All records of one event go to the same process, in the order they were read, so two
  processes never work on the same registrations (nor take the same event's match-search lock)
  at once. An attendee registered for events in two processes is created by one of them; the
  other's INSERT loses on the unique email and its transaction simply runs again, as it would
  for two webhooks at once.
* ``done(block=True)`` returns when everything sent has been applied: the run calls it before
  the steps that look at what the records did (refunds and disputes of sessions applied just
  now) and before it saves its counts.
* The processes are forked before the run takes its lock, and each opens connections of its own
  (``_fresh_connections``); a process that dies or stalls stops the run with a clear error
  instead of a hang.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import signal
import time
from dataclasses import dataclass

from asgiref.local import Local
from django.db import connection, connections

log = logging.getLogger(__name__)

# No outcome for this long while records wait: the processes are stuck (one record waits seconds
# for a row lock at most), and the run stops instead of hanging until someone notices.
STALL_SECONDS = 180


@dataclass(frozen=True)
class Outcome:
    """What applying one record did (what the run needs of an ``ApplyResult``)."""

    created: bool = False
    changed: tuple = ()
    error: str = ""  # "ExceptionType: message" when it failed


class ApplyProcessDied(RuntimeError):
    """An apply process ended without being asked to (killed, out of memory)."""


def usable(processes: int) -> bool:
    """Several processes only on PostgreSQL (SQLite, the laptop default, takes one writer at a
    time) and where they can be forked: not inside a transaction (a test's, or a caller's: closing
    the connection would end it) and not inside a daemonic process."""
    return (
        processes > 1
        and connection.vendor == "postgresql"
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
        and not any(c.in_atomic_block for c in connections.all(initialized_only=True))
    )


_INHERITED: list = []


def _fresh_connections() -> None:
    """In a forked child: database connections of its own, whatever the parent left behind.

    The parent closes its connections before forking, but a connection wrapper can look closed
    and still hold its socket (Django skips closing one closed inside a transaction), and two
    processes talking on one socket read each other's answers. The inherited wrappers are set
    aside untouched — closing or even garbage-collecting them would end the parent's session —
    and the child exits with ``os._exit`` (multiprocessing's way), which runs no finalizers."""
    _INHERITED.append(connections._connections)
    connections._connections = Local(connections.thread_critical)


def _serve(tasks, results):
    """A child: apply what arrives until None. Each record in its own transaction, as inline."""
    from registrations.audit import Actor
    from registrations.models import Source
    from registrations.services import apply_booking, apply_payment

    # Ctrl-C reaches the whole process group: the run (the parent) decides and stops its children.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _fresh_connections()
    try:
        while True:
            task = tasks.get()
            if task is None:
                return
            tid, provider, record, source, what = task
            fn = apply_payment if provider == "stripe" else apply_booking
            try:
                result = fn(record, actor=Actor.system(source=source), source=Source.RECONCILIATION)
            except Exception as exc:  # counted and listed by the run, like an inline failure
                log.exception("reconcile: applying %s failed", what)
                results.put((tid, Outcome(error=f"{type(exc).__name__}: {exc}")))
                continue
            results.put((tid, Outcome(created=result.created, changed=tuple(result.changed))))
    finally:
        connection.close()


class ApplyPool:
    def __init__(self, processes: int):
        ctx = multiprocessing.get_context("fork")
        connections.close_all()  # a forked child must never share the parent's connection
        self.results = ctx.Queue()
        self.queues = [ctx.Queue() for _ in range(processes)]
        self.procs = [
            ctx.Process(target=_serve, args=(q, self.results), name=f"reconcile-apply-{n}", daemon=True)
            for n, q in enumerate(self.queues)
        ]
        for p in self.procs:
            p.start()
        self.pending: dict[int, object] = {}
        self._last_outcome = time.monotonic()
        self._worker: dict[str, int] = {}  # event → its process
        self._next = 0

    def submit(self, key: str, provider: str, signal, source: str, what: str, context) -> None:
        """Queue one record for the process of ``key`` (its event); ``context`` comes back with
        its outcome from ``done()``."""
        self._next += 1
        if not self.pending:
            self._last_outcome = time.monotonic()  # idle until now: the stall clock starts here
        self.pending[self._next] = context
        # Events are dealt out in the order they are first seen, so each process gets its share.
        worker = self._worker.setdefault(key, len(self._worker) % len(self.queues))
        self.queues[worker].put((self._next, provider, signal, source, what))

    def done(self, block: bool = False, until: int = 0):
        """(context, Outcome) of records applied since the last call; with ``block``, wait until
        no more than ``until`` records are still waiting."""
        while self.pending:
            waiting = block and len(self.pending) > until
            try:
                tid, outcome = self.results.get(timeout=1.0) if waiting else self.results.get_nowait()
            except queue.Empty:
                if not waiting:
                    return
                if time.monotonic() - self._last_outcome > STALL_SECONDS:
                    raise ApplyProcessDied(
                        f"the apply processes have applied nothing for {STALL_SECONDS} s ({len(self.pending)} records "
                        "not applied); see the log above. Nothing applied is lost; run the reconciliation again."
                    )
                dead = [p.name for p in self.procs if not p.is_alive()]
                if dead:
                    raise ApplyProcessDied(
                        f"{', '.join(dead)} stopped while applying records ({len(self.pending)} not applied); "
                        "see the log above. Nothing applied is lost; run the reconciliation again."
                    )
                continue
            self._last_outcome = time.monotonic()
            yield self.pending.pop(tid), outcome

    def close(self) -> None:
        """Stop the processes: at once when records are still waiting (the run failed or was
        stopped; each record is its own transaction, so one cut short is rolled back whole)."""
        patience = 0.0 if self.pending else 10.0
        for q in self.queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for p in self.procs:
            p.join(timeout=patience)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for q in [*self.queues, self.results]:
            q.cancel_join_thread()  # what a dead child never read must not hold this process up
            q.close()
