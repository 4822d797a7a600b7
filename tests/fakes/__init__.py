"""Local fake provider servers: real HTTP on 127.0.0.1 that the real SDKs talk to.

Used by tests (fixtures in tests/conftest.py), the demo (``manage.py demo``) and the benchmarks.
Each fake keeps its data in memory, records every request, and can be told to fail:
``fail_next(n, status=500)``, ``fail_next(n, status=429, retry_after=1)``,
``fail_next(n, delay=10)`` (a timeout) or ``down()`` / ``up()``.
"""

from .acuity import FakeAcuity
from .base import FakeServer
from .stripe import FakeStripe

__all__ = ["FakeAcuity", "FakeServer", "FakeStripe"]
