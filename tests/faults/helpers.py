"""Process, database and delivery helpers for the fault tests (no fixtures here: see conftest.py).

* ``Processes``: start subprocesses in their own process group (so a kill reaches the whole
  django-q2 cluster: sentinel, pusher, monitor, workers), log each to a file, SIGKILL or stop
  them, and stop whatever is left at teardown.
* ``wait_until``: poll a condition with a bounded timeout; fail with the logs of the processes
  that matter when it never comes true (or when one of them died).
* ``PrivatePostgres``: a throwaway PostgreSQL cluster (initdb in a temp dir, own port) that a
  test may stop and start; the machine's shared PostgreSQL is never touched.
* ``Deliveries``: signed Stripe and Acuity deliveries over real HTTP, as the providers send them
  (every Stripe retry is re-signed), with every answer recorded.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import requests

from integrations.acuity_events import delivery_key
from tests.fakes import acuity as acuity_fake
from tests.fakes import stripe as stripe_fake

BASE_DIR = Path(__file__).resolve().parents[2]
PLINK = "plink_1SampleSpring"  # the fakes' default payment link and appointment type
ATYPE = 4440001
STRIPE_SECRET = "whsec_test_secret"


# --- processes -------------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the whole process group (no cleanup, no acks: a crash or an OOM kill)."""
        _signal_group(self.popen, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the leader, as a platform stops a service (qcluster and gunicorn then stop their
        own children; a SIGTERM to every process of a qcluster makes it hang), then SIGKILL the
        group: whatever is still there after ``timeout`` seconds, and any orphans."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(self.popen, signal.SIGKILL)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(popen.pid, sig)  # start_new_session: the group id is the leader's pid
    except ProcessLookupError:
        pass


class Processes:
    """Every process a test starts; ``stop_all()`` (called by the fixture) ends them, last first."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict) -> Proc:
        log_path = self.log_dir / f"{name}-{len(self.started)}.log"
        with open(log_path, "wb") as log_file:  # a file, never a pipe: a full pipe blocks the child
            popen = subprocess.Popen(
                args,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log_path)
        self.started.append(proc)
        return proc

    def manage(self, name: str, command: list[str], env: dict) -> Proc:
        return self.start(name, [sys.executable, "manage.py", *command], env)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop(timeout=5)


def wait_until(predicate, timeout: float, what: str, *, watch: list[Proc] = (), interval: float = 0.2) -> float:
    """Poll ``predicate`` until it is true; return the seconds it took. Raise AssertionError
    naming ``what`` (with the watched processes' logs) after ``timeout`` seconds, or as soon as
    a watched process has exited."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if predicate():
            return time.monotonic() - start
        dead = [p for p in watch if not p.alive()]
        if dead or time.monotonic() > deadline:
            why = f"{dead[0].name} exited ({dead[0].popen.returncode})" if dead else f"not within {timeout:.0f}s"
            logs = "\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.tail()}" for p in watch)
            raise AssertionError(f"waiting for {what}: {why}\n{logs}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- environments ----------------------------------------------------------------------------------
def app_env(database_url: str, secret_key: str, *, stripe=None, acuity=None, resend=None, **overrides) -> dict:
    """Environment of a web server, worker or sweeper pointed at ``database_url`` and the fakes.

    The django-q2 numbers are short so a re-presented task comes back in seconds: a task is
    killed after Q_TIMEOUT and an un-acked one is handed out again after Q_RETRY (> timeout)."""
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,  # queued task payloads are signed with it: same in every process
        STRIPE_WEBHOOK_SECRETS=STRIPE_SECRET,
        STRIPE_REQUESTS_PER_SECOND="1000",
        ACUITY_REQUESTS_PER_SECOND="1000",
        Q_WORKERS="2",
        Q_TIMEOUT="5",
        Q_RETRY="7",
        Q_POLL="0.1",
        # A row still "received" 10 s after its task was queued is queued again by the sweeper.
        WEBHOOK_LOST_AFTER_SECONDS="10",
        WEBHOOK_HTTP_TIMEOUT="4",
        LOG_LEVEL="INFO",
        LOG_FORMAT="plain",
        DJANGO_SETTINGS_MODULE="jlf.settings",
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if stripe is not None:
        env.update(STRIPE_API_BASE=stripe.url, STRIPE_SECRET_KEY="sk_test_fake")
    if acuity is not None:
        env.update(ACUITY_API_BASE=acuity.base_url, ACUITY_USER_ID=acuity.user_id, ACUITY_API_KEY=acuity.api_key)
    if resend is not None:
        env.update(RESEND_API_KEY=resend.api_key, RESEND_API_URL=resend.url)
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def start_worker(processes: Processes, env: dict) -> Proc:
    return processes.manage("qcluster", ["qcluster"], env)


def start_sweeper(processes: Processes, env: dict, every: float = 1.0) -> Proc:
    """The ``integrations.webhooks.sweep`` schedule runs every minute in production; here it ticks
    every ``every`` seconds (same function, same compare-and-set claims) so a test waits seconds,
    not minutes, for retries and lost tasks."""
    return processes.start("sweeper", [sys.executable, "-m", "tests.faults.sidecar", "sweep", str(every)], env)


# --- a private PostgreSQL --------------------------------------------------------------------------
def _pg_bin() -> Path | None:
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    for path in sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True):
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a temp dir, on a free port, trust auth."""

    def __init__(self):
        self.bin = _pg_bin()
        self.root: Path | None = None
        self.port = 0

    @classmethod
    def unavailable_reason(cls) -> str:
        if _pg_bin() is None:
            return "no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
        if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
            return "initdb refuses root and a private cluster must be owned by postgres: run as root or postgres"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no postgres system user to own the private cluster"
        return ""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/jlf"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout[-1500:]} {result.stderr[-1500:]}")

    def create(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="jlf-faults-pg-"))
        owner = pwd.getpwnam("postgres")
        os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.port = free_port()
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "jlf")

    def start(self) -> None:
        # fsync off: speed only; a fast shutdown and start are clean either way.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return self.root is not None and (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.root is None:
            return
        try:
            if self.is_running():
                self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-chars:]
        except (OSError, TypeError):
            return ""


# --- deliveries ------------------------------------------------------------------------------------
def new_person() -> tuple[str, str]:
    """(email, name) of a new attendee. Random names, so no two attendees look alike to the
    suggested-match detection (which would open review items instead of plain statuses)."""
    token = uuid.uuid4().hex[:10]
    return f"guest-{token}@example.org", f"Guest {token}"


@dataclass
class Delivery:
    provider: str  # "stripe" | "acuity"
    event_id: str  # the inbox key: Stripe's evt_ id, or Acuity's body-derived key
    object_id: str  # checkout session id / appointment id
    body: bytes
    answers: list = field(default_factory=list)  # status codes, or "error: …" for no answer

    @property
    def last(self):
        return self.answers[-1] if self.answers else None


class Deliveries:
    """Build signed deliveries from the fakes' objects and POST them to ``base_url``; thread-safe."""

    def __init__(self, base_url: str, fake_stripe, fake_acuity, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.stripe = fake_stripe
        self.acuity = fake_acuity
        self.timeout = timeout
        self.sent: list[Delivery] = []
        self.log: list[tuple[float, Delivery, object]] = []  # (monotonic time, delivery, answer)
        self._lock = threading.Lock()

    def new_stripe(self, person: tuple[str, str] | None = None) -> Delivery:
        """A paid checkout session at the fake Stripe, and its ``checkout.session.completed``."""
        email, name = person or new_person()
        session = self.stripe.add_session(email=email, name=name)
        evt = self.stripe.session_event(session)
        return Delivery("stripe", evt["id"], session["id"], self.stripe.body(evt))

    def new_acuity(self, person: tuple[str, str] | None = None) -> Delivery:
        """An appointment at the fake Acuity, and its ``scheduled`` delivery."""
        email, name = person or new_person()
        first, _, last = name.partition(" ")
        appt = self.acuity.add_appointment(email=email, first_name=first, last_name=last, phone="")
        body = acuity_fake.webhook_body(appt, "scheduled")
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        return Delivery("acuity", delivery_key(form), str(appt["id"]), body)

    def post(self, delivery: Delivery):
        """One delivery attempt, signed now (Stripe signs every retry anew). Returns the status code
        (or "error: …" when no HTTP answer came)."""
        if delivery.provider == "stripe":
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_fake.sign(delivery.body, STRIPE_SECRET),
            }
        else:
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Acuity-Signature": acuity_fake.sign(delivery.body, self.acuity.api_key),
            }
        try:
            answer = requests.post(
                f"{self.base_url}/webhooks/{delivery.provider}/",
                data=delivery.body,
                headers=headers,
                timeout=self.timeout,
            ).status_code
        except requests.RequestException as exc:
            answer = f"error: {type(exc).__name__}"
        with self._lock:
            delivery.answers.append(answer)
            self.log.append((time.monotonic(), delivery, answer))
            if delivery not in self.sent:
                self.sent.append(delivery)
        return answer

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.sent)


def seed_event():
    """The event the fakes' default payment link and appointment type map to (in the current DB)."""
    from registrations.models import EventMapping
    from tests.factories import EventFactory

    event = EventFactory(slug="fault-retreat", name="Fault Retreat", price=12000)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=PLINK, event=event)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=str(ATYPE), event=event)
    return event
