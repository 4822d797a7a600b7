"""pytest plugin: no configured secret may ever appear in a log line, anywhere in the suite.

Loaded from ``tests/conftest.py`` (``pytest_plugins = ["tests.log_secrets"]``), so it watches
every test file without any test opting in:

* a handler on the root logger (and on any logger that does not propagate) formats every record
  with the production JSON formatter, *without* its last-resort redaction, and searches the line
  for the secrets configured at that moment (``jlf.logs.configured_secrets``: SECRET_KEY,
  STRIPE_WEBHOOK_SECRETS, ACUITY_API_KEY, TWILIO_AUTH_TOKEN, RESEND_API_KEY, … — including
  values a test set with the ``settings`` fixture);
* a leak is remembered with the test that caused it, the logger and the setting's *name*
  (never the value); at the end of the session the run fails with exit status 1 and a report,
  even if every test passed.

For tests that need it directly:

* ``log_lines`` fixture: the JSON lines logged during the current test (unredacted);
* ``log_secret_leaks`` fixture: the leaks found so far in the current test;
* ``@pytest.mark.log_secret_expected``: the test deliberately logs a secret (to test the
  redaction itself); its leaks are not held against the session.
"""

from __future__ import annotations

import logging

import pytest

_state = {"current": "<collection>", "leaks": [], "lines": [], "expected": False}


class _GuardHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.NOTSET)
        from jlf.logs import JsonFormatter, RequestIdFilter

        self.setFormatter(JsonFormatter(redact=False))
        self.addFilter(RequestIdFilter())

    def emit(self, record):
        from jlf.logs import find_secrets

        try:
            line = self.format(record)
        except Exception as exc:  # a record that cannot be formatted is a bug of its own
            line = f"<unformattable record from {record.name}: {exc!r}>"
        _state["lines"].append(line)
        try:
            names = find_secrets(line)
        except Exception:  # settings not ready (very early records)
            names = []
        if names:
            _state["leaks"].append(
                {
                    "test": _state["current"],
                    "logger": record.name,
                    "settings": names,
                    "expected": _state["expected"],
                }
            )


_handler: _GuardHandler | None = None


def _install():
    """(Re)attach the guard: Django's logging setup, or a test calling dictConfig, replaces the
    root handlers."""
    global _handler
    if _handler is None:
        _handler = _GuardHandler()
    loggers = [logging.getLogger()]
    loggers += [
        lg
        for lg in logging.Logger.manager.loggerDict.values()
        if isinstance(lg, logging.Logger) and not lg.propagate and lg.handlers
    ]
    for lg in loggers:
        if _handler not in lg.handlers:
            lg.addHandler(_handler)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "log_secret_expected: the test logs a configured secret on purpose (log-secret guard ignores it)"
    )


def pytest_sessionstart(session):
    _install()


def pytest_runtest_setup(item):
    _install()
    _state["current"] = item.nodeid
    _state["lines"] = []
    _state["expected"] = item.get_closest_marker("log_secret_expected") is not None


def pytest_runtest_teardown(item, nextitem):
    _state["current"] = f"{item.nodeid} (teardown)"


@pytest.fixture
def log_lines():
    """JSON lines logged so far in this test (unredacted; the guard's own view)."""
    return _state["lines"]


class _TestLeaks:
    """A live view of the leaks found in one test (compares and iterates like a list)."""

    def __init__(self, nodeid):
        self.nodeid = nodeid

    def _items(self):
        return [leak for leak in _state["leaks"] if leak["test"] == self.nodeid]

    def __iter__(self):
        return iter(self._items())

    def __len__(self):
        return len(self._items())

    def __eq__(self, other):
        return self._items() == list(other)

    def __repr__(self):
        return repr(self._items())


@pytest.fixture
def log_secret_leaks(request):
    """Leaks found in this test so far, live: ``[{"logger", "settings", …}]``."""
    return _TestLeaks(request.node.nodeid)


def unexpected_leaks():
    return [leak for leak in _state["leaks"] if not leak["expected"]]


def pytest_sessionfinish(session, exitstatus):
    if unexpected_leaks() and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    leaks = unexpected_leaks()
    if not leaks:
        return
    terminalreporter.section("configured secrets found in log output", sep="=", red=True, bold=True)
    for leak in leaks[:50]:
        terminalreporter.write_line(
            f"{leak['test']}: logger {leak['logger']!r} logged the value of {', '.join(leak['settings'])}"
        )
    if len(leaks) > 50:
        terminalreporter.write_line(f"… and {len(leaks) - 50} more")
    terminalreporter.write_line("The session fails: no secret may reach a log line (see tests/log_secrets.py).")
