"""Fixtures of the fault tests: processes that are always cleaned up, and fakes that can be made
slow (Stripe, Acuity) or made to hold an answer after accepting (Resend).

Every test here is ``slow`` and PostgreSQL-only: the faults are about separate processes (web,
worker, sweeper) sharing one PostgreSQL, and pytest-django's SQLite test database lives in memory
in the test process, where no other process can reach it.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tests.conftest import serve_acuity, serve_stripe
from tests.fakes.acuity import FakeAcuity
from tests.fakes.resend import FakeResend
from tests.fakes.stripe import FakeStripe

from .helpers import Processes

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="fault tests run a worker and a web server as separate processes on one PostgreSQL; "
    "pytest-django's SQLite test database is in memory and cannot be shared with them",
)


def database_url() -> str:
    """The test database, for the subprocesses."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def processes(tmp_path):
    """Start processes with ``processes.start/manage``; all of them are stopped at teardown (their
    logs stay in the test's tmp_path)."""
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


class SlowAcuity(FakeAcuity):
    """Fake Acuity whose ``GET /appointments/{id}`` takes ``fetch_delay`` seconds, and which knows
    which such fetches are under way (so a test can kill the worker in the middle of one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fetch_delay = 0.0
        self._fetch_starts: list[float] = []
        self._flight_lock = threading.Lock()

    def fetch_started_within(self, seconds: float) -> bool:
        """An appointment fetch is under way and began less than ``seconds`` ago."""
        now = time.monotonic()
        with self._flight_lock:
            return any(now - started < seconds for started in self._fetch_starts)

    def _get(self, req, aid):
        started = time.monotonic()
        with self._flight_lock:
            self._fetch_starts.append(started)
        try:
            if self.fetch_delay:
                time.sleep(self.fetch_delay)
            return super()._get(req, aid)
        finally:
            with self._flight_lock:
                self._fetch_starts.remove(started)


class SlowStripe(FakeStripe):
    """Fake Stripe whose line items of the sessions in ``slow_line_items`` ({session id: seconds})
    take that long to come back."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.slow_line_items: dict[str, float] = {}

    def _get_line_items(self, req, sid):
        if self.slow_line_items.get(sid):
            time.sleep(self.slow_line_items[sid])
        return super()._get_line_items(req, sid)


class HoldingResend(FakeResend):
    """Fake Resend that, while ``hold`` is on, accepts an email (it will be delivered) and then
    keeps the HTTP answer back until ``release()`` — the window in which a crash leaves us without
    the provider's id."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hold = False
        self.holding = threading.Event()
        self._release = threading.Event()

    def release(self):
        self.hold = False
        self._release.set()

    def _create_email(self, req):
        answer = super()._create_email(req)
        if self.hold and answer[0] == 200:
            self.holding.set()
            self._release.wait(timeout=60)
        return answer

    def posts(self) -> list:
        return [r for r in self.requests if r.method == "POST" and r.path == "/emails"]


@pytest.fixture
def fake_stripe(settings):
    """The shared fixture's fake Stripe, able to answer slowly (``fake_stripe.slow_line_items``)."""
    yield from serve_stripe(settings, SlowStripe())


@pytest.fixture
def fake_acuity(settings):
    """The shared fixture's fake Acuity, able to answer slowly (``fake_acuity.fetch_delay``)."""
    yield from serve_acuity(settings, SlowAcuity())


@pytest.fixture
def fake_resend(settings):
    """The shared fixture's fake Resend, able to hold an answer after accepting the email."""
    from tests.fakes.resend import WEBHOOK_SECRET

    fake = HoldingResend().start()
    try:
        settings.RESEND_API_KEY = fake.api_key
        settings.RESEND_API_URL = fake.url
        settings.RESEND_WEBHOOK_SECRET = WEBHOOK_SECRET
        yield fake
    finally:
        fake.release()
        fake.stop()
