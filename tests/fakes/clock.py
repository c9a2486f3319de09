"""A frozen ``datetime`` for unit tests of modules that call ``datetime.now(UTC)`` themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def frozen_datetime(now: datetime) -> type[datetime]:
    """A ``datetime`` subclass whose ``now(UTC)`` is ``now``; to monkeypatch over a module's
    ``datetime``. ``now`` without ``UTC`` fails the test: the code must ask for UTC."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            assert tz is UTC
            return now

    return Frozen
