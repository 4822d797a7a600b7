"""``./dev run`` stops within a few seconds of Ctrl-C / TERM, also while the django-q2 worker is in
the middle of a long task, and the task it cut short is not lost: its row stays claimed in the ORM
queue (never acknowledged), so the broker presents it again ``Q_CLUSTER["retry"]`` seconds after it
was claimed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def group_members(pgid: int) -> list[str]:
    """The live processes of process group ``pgid`` (zombies, dead but not yet reaped, are not)."""
    out = subprocess.run(["ps", "-eo", "pgid=,stat=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")]


def wait_for(predicate, seconds: float, what: str, proc=None, log: Path | None = None):
    deadline = time.monotonic() + seconds
    while not predicate():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"./dev run exited while waiting for {what}:\n{log.read_text()[-4000:] if log else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s:\n{log.read_text()[-4000:] if log else ''}")
        time.sleep(0.2)


def start_dev_run(tmp_path, **extra_env):
    """``./dev run`` in its own process group on free ports and SQLite, serving its login page:
    (process, env, log path)."""
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "FAKE_STRIPE_PORT": str(free_port()),
        "FAKE_ACUITY_PORT": str(free_port()),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "DATABASE_URL": "",
        "VENV": str(Path(sys.executable).parent.parent),
        **extra_env,
    }
    env.pop("JLF_TESTING", None)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["./dev", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def serving():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2):
                return True
        except OSError:
            return False

    try:
        wait_for(serving, 180, "login page", proc, log)
    except BaseException:
        if proc.poll() is None or group_members(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc, env, log


def test_stopping_dev_run_with_a_long_task_running_takes_seconds_and_keeps_the_task(tmp_path):
    proc, env, log = start_dev_run(tmp_path, Q_WORKERS="1")
    try:
        manage(env, "from django_q.tasks import async_task; async_task('time.sleep', 45, task_name='long-task')")
        wait_for(lambda: "processing long-task" in log.read_text(), 30, "worker picking up the task", proc, log)

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        took = time.monotonic() - started
        time.sleep(0.5)
        left = group_members(proc.pid)
    finally:
        if proc.poll() is None or group_members(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)

    assert took < 8, f"./dev run took {took:.1f} s to stop:\n{log.read_text()[-3000:]}"
    assert not left, f"processes left running after ./dev run stopped: {left}"
    # Not acknowledged and not recorded as done: the ORM broker hands it out again after `retry`.
    state = manage(
        env,
        "from django_q.models import OrmQ, Task; "
        "print(sorted(q.name() for q in OrmQ.objects.all()), Task.objects.filter(name='long-task').count())",
    )
    assert state.strip().splitlines()[-1] == "['long-task'] 0"


def test_terminating_dev_run_as_ci_does_right_after_it_starts_ends_every_process(tmp_path):
    """.ci/run sends TERM to the whole process group as soon as the login page answers: the
    worker's sentinel dies with it, and qcluster would wait for it forever."""
    proc, _, _ = start_dev_run(tmp_path)
    try:
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"./dev run still running 15 s after TERM: {group_members(proc.pid)}")
        took = time.monotonic() - started
        time.sleep(0.5)
        left = group_members(proc.pid)
    finally:
        if proc.poll() is None or group_members(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    assert took < 8, f"./dev run took {took:.1f} s to stop"
    assert not left, f"processes left running after ./dev run stopped: {left}"
