"""A one-line progress display for long management commands, on stderr.

It redraws at most ten times a second and stays silent when stderr is not a terminal (cron, the
release step, logs), so piped output holds only the report.
"""

from __future__ import annotations

import shutil
import sys
import time

_SPINNER = "|/-\\"


class Progress:
    def __init__(self, stream=None, *, enabled: bool | None = None, interval: float = 0.1):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.interval = interval
        self._last = 0.0
        self._ticks = 0
        self._drawn = False

    def update(self, text: str, *, force: bool = False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self._ticks += 1
        width = max(shutil.get_terminal_size((80, 20)).columns - 3, 10)
        self.stream.write(f"\r{_SPINNER[self._ticks % len(_SPINNER)]} {text[:width]}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def clear(self):
        """Erase the line (before other output is printed, and at the end)."""
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
