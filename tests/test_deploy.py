"""Deployment: the env file documents every setting, the process types start, schedules install."""

import ast
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_q.models import Schedule

from jlf import schedules as registry

ROOT = Path(__file__).resolve().parent.parent


# --- .env.example --------------------------------------------------------------------------


def env_keys_read_by(path: Path) -> set[str]:
    """Keys read through django-environ (``env.str("KEY")``, ``env.db("KEY")``…) or
    ``os.environ.get("KEY")`` in a Python file."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env":
            keys.add(first.value)
        elif isinstance(func, ast.Name) and func.id == "env":
            keys.add(first.value)
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in ("get", "getenv")
            and ast.unparse(func.value) in ("os.environ", "os")
        ):
            keys.add(first.value)
    return keys


def documented_keys() -> dict[str, int]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    found = {}
    for number, line in enumerate(lines):
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]+)=", line)
        if match:
            found[match.group(1)] = number
    return found


def test_env_example_documents_every_key_settings_and_gunicorn_read():
    read = env_keys_read_by(ROOT / "jlf" / "settings.py") | env_keys_read_by(ROOT / "gunicorn.conf.py")
    assert {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "STRIPE_WEBHOOK_SECRETS", "PORT"} <= read
    missing = sorted(read - set(documented_keys()))
    assert not missing, f".env.example does not document: {', '.join(missing)}"


def test_every_env_example_key_has_its_own_comment_line():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for key, number in documented_keys().items():
        above = lines[number - 1]
        assert above.startswith("# ") and not re.match(r"^#\s?[A-Z][A-Z0-9_]+=", above), key


# --- Procfile, Dockerfile, gunicorn --------------------------------------------------------


def test_procfile_declares_web_worker_and_release():
    procs = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert procs["web"] == "gunicorn jlf.wsgi --config gunicorn.conf.py"
    assert procs["worker"] == "python manage.py qcluster"
    assert procs["release"] == (
        "python manage.py migrate --noinput && python manage.py setup_schedules && python manage.py redact_purged_audit"
    )


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck_and_built_static_files():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line.split()[0] for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert instructions[0] == "FROM" and "FROM python:3.11-slim" in text
    assert instructions.index("USER") < instructions.index("CMD")
    assert "USER 10001:10001" in text and "--uid 10001" in text
    assert "collectstatic --noinput" in text
    assert "/healthz" in text.split("HEALTHCHECK", 1)[1]
    assert 'CMD ["gunicorn", "jlf.wsgi", "--config", "gunicorn.conf.py"]' in text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored


def test_gunicorn_settings_come_from_the_environment_and_write_no_access_log():
    env = {**os.environ, "PORT": "8123", "WEB_CONCURRENCY": "5", "GUNICORN_TIMEOUT": "20"}
    out = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "jlf.wsgi", "--config", "gunicorn.conf.py", "--print-config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    config = dict(re.findall(r"^(\w+)\s+= (.*)$", out.stdout, re.M))
    assert config["bind"] == "['0.0.0.0:8123']"
    assert config["workers"] == "5" and config["timeout"] == "20"
    assert config["accesslog"] == "None"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_web_process_serves_healthz_and_logs_json_lines(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "DJANGO_SETTINGS_MODULE": "jlf.settings",
        "SQLITE_PATH": str(tmp_path / "web.sqlite3"),
    }
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "jlf.wsgi", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body, request_id = response.read(), response.headers["X-Request-ID"]
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert body == b"ok"
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # gunicorn's own lines are JSON too
    request_line = next(line for line in lines if line["logger"] == "jlf.request")
    assert request_line["request_id"] == request_id and request_line["path"] == "/healthz"
    assert not [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


# --- setup_schedules -----------------------------------------------------------------------


def run_setup(*args) -> str:
    out = StringIO()
    call_command("setup_schedules", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def registry_entries(monkeypatch):
    """This app's SCHEDULES list, replaced for the test (the real discovery still runs)."""
    entries = [
        {"name": "jlf.heartbeat", "func": "jlf.health.heartbeat", "schedule_type": "I", "minutes": 1},
        {"name": "test.nightly", "func": "jlf.health.heartbeat", "schedule_type": "C", "cron": "15 3 * * *"},
    ]
    monkeypatch.setattr(registry, "SCHEDULES", entries)
    monkeypatch.setattr(registry, "schedule_modules", lambda: ["jlf.schedules"])
    return entries


@pytest.mark.django_db
def test_setup_schedules_creates_every_declared_schedule_once(registry_entries):
    first = run_setup()
    assert "2 created, 0 updated, 0 unchanged (2 declared)." in first
    second = run_setup()
    assert "0 created, 0 updated, 2 unchanged (2 declared)." in second
    nightly = Schedule.objects.get(name="test.nightly")
    assert (nightly.func, nightly.schedule_type, nightly.cron) == ("jlf.health.heartbeat", "C", "15 3 * * *")
    assert Schedule.objects.count() == 2


@pytest.mark.django_db
def test_setup_schedules_applies_code_changes_but_keeps_the_next_run(registry_entries):
    run_setup()
    before = Schedule.objects.get(name="jlf.heartbeat").next_run
    registry_entries[0]["minutes"] = 2
    assert "~ jlf.heartbeat: minutes" in run_setup()
    after = Schedule.objects.get(name="jlf.heartbeat")
    assert after.minutes == 2 and after.next_run == before


@pytest.mark.django_db
def test_setup_schedules_collapses_duplicates_and_leaves_undeclared_schedules_alone(registry_entries):
    run_setup()
    Schedule.objects.create(name="jlf.heartbeat", func="jlf.health.heartbeat", schedule_type="I", minutes=1)
    Schedule.objects.create(name="made.in.admin", func="jlf.health.heartbeat", schedule_type="D")
    output = run_setup()
    assert "removing 1 duplicate(s)" in output
    assert "made.in.admin: left alone" in output
    assert Schedule.objects.filter(name="jlf.heartbeat").count() == 1
    assert Schedule.objects.filter(name="made.in.admin").exists()
    run_setup("--prune")
    assert not Schedule.objects.filter(name="made.in.admin").exists()


@pytest.mark.django_db
def test_setup_schedules_dry_run_changes_nothing(registry_entries):
    output = run_setup("--dry-run")
    assert "Dry run: would have 2 created" in output
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_setup_schedules_refuses_an_invalid_registry_entry(registry_entries):
    registry_entries.append({"name": "broken", "func": "x.y", "schedule_type": "C", "cron": "not a cron"})
    with pytest.raises(CommandError, match="broken"):
        run_setup()
    registry_entries[-1] = {"name": "", "func": "x.y"}
    with pytest.raises(CommandError, match="lacks name"):
        run_setup()


def test_the_registry_finds_schedules_in_apps_and_in_packages_inside_apps():
    modules = registry.schedule_modules()
    assert "jlf.schedules" in modules
    assert all(not m.startswith(("django", "axes", "csp", "sesame")) for m in modules)
    assert {e["name"] for e in registry.registered_schedules()} >= {"jlf.heartbeat"}


# --- the worker, for real ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the qcluster subprocess must share the test database; pytest-django's SQLite test database lives in memory",
)
def test_a_running_qcluster_makes_the_status_page_say_the_worker_is_alive(client, django_user_model):
    from jlf.health import check_worker

    run_setup()
    settings_db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{settings_db['USER']}:{settings_db['PASSWORD'] or ''}@{settings_db['HOST'] or '127.0.0.1'}:"
            f"{settings_db['PORT'] or 5432}/{settings_db['NAME']}"
        ),
        "Q_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        from django.utils import timezone

        while check_worker(timezone.now()).state != "ok":
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "no heartbeat within 90 s"
            time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert check_worker(timezone.now()).detail.startswith("alive")
