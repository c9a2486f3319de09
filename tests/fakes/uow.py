"""A recording stand-in for ``PostgresUnitOfWork``, for unit tests of ``shared/service_layer``.

The mutation tests of the service layer (``tests/unit/test_mut_*.py``) each need the same shell:
a unit of work that is entered, emits events kept only on ``commit``, counts commits, rollbacks
and savepoints, and whose repositories record every call so a test can assert what the use case
asked the database for (the lock's scope, the batch size, the row written), not only what an
in-memory store happened to keep.

``RecordingUow(log, users=..., messages=...)`` takes the repositories a test needs by their
attribute names on ``PostgresUnitOfWork``. A repository is either a hand-written class (when the
test needs behaviour) or a ``ScriptedRepo`` (answers scripted per method, every call recorded).
Every call, through either, lands in one ``UowLog`` shared by all the units of work a test
opens, in order, so a test can assert the order of locks across repositories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast
from uuid import UUID, uuid4

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.events import Event


@dataclass(frozen=True)
class Call:
    """One repository call: ``repo.method(*args, **kwargs)``."""

    repo: str
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class UowLog:
    """What every unit of work of a test did, in order."""

    calls: list[Call] = field(default_factory=list)
    committed_events: list[Event] = field(default_factory=list)
    entered: int = 0
    commits: int = 0
    rollbacks: int = 0
    savepoints: int = 0
    exits_without_commit: int = 0

    def of(self, repo: str, method: str | None = None) -> list[Call]:
        """The calls to ``repo`` (and ``method``, when given), in order."""
        return [c for c in self.calls if c.repo == repo and (method is None or c.method == method)]

    def methods(self) -> list[str]:
        """``repo.method`` of every call, in order."""
        return [f"{c.repo}.{c.method}" for c in self.calls]


class NotScripted(AssertionError):
    """A use case called a repository method the test gave no answer for."""


class ScriptedRepo:
    """Records every call; answers from ``answers[method]``.

    An answer is a value (returned on every call), or a callable (called with the call's
    arguments; its result is returned, and an exception it raises propagates). A method with no
    answer raises ``NotScripted``, so a test never passes on a call it did not expect.
    """

    def __init__(self, name: str, log: UowLog, **answers: Any) -> None:
        self._name = name
        self._log = log
        self._answers: dict[str, Any] = dict(answers)

    def answer(self, method: str, value: Any) -> None:
        self._answers[method] = value

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._log.calls.append(Call(self._name, method, args, kwargs))
            if method not in self._answers:
                raise NotScripted(f"{self._name}.{method} has no scripted answer")
            answer = self._answers[method]
            return answer(*args, **kwargs) if callable(answer) else answer

        return call


class RecordingRepo:
    """Base for hand-written repository fakes: ``self.record(method, *args, **kwargs)``."""

    name = "repo"

    def __init__(self, log: UowLog) -> None:
        self.log = log

    def record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.log.calls.append(Call(self.name, method, args, kwargs))


class RecordingUow:
    """The unit-of-work shell: events kept on ``commit`` only; repositories given by name."""

    def __init__(self, log: UowLog, **repos: object) -> None:
        self.log = log
        self._pending: list[Event] = []
        self._committed = False
        for name, repo in repos.items():
            setattr(self, name, repo)

    def __enter__(self) -> RecordingUow:
        self.log.entered += 1
        self._pending = []
        self._committed = False
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            self.log.exits_without_commit += 1
        self._pending = []

    def emit(self, event: Event) -> None:
        self._pending.append(event)

    def commit(self) -> list[UUID]:
        self.log.committed_events.extend(self._pending)
        ids = [uuid4() for _ in self._pending]
        self._pending = []
        self._committed = True
        self.log.commits += 1
        return ids

    def rollback(self) -> None:
        self._pending = []
        self.log.rollbacks += 1

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self.log.savepoints += 1
        yield

    def as_postgres(self) -> PostgresUnitOfWork:
        """This fake typed as the real unit of work, for a use case's signature."""
        return cast(PostgresUnitOfWork, self)


def uow_factory(log: UowLog, **repos: object) -> Callable[[], PostgresUnitOfWork]:
    """A ``uow_factory`` for use cases that open their own units of work: each call a new shell
    over the same repositories and log."""
    return lambda: RecordingUow(log, **repos).as_postgres()
