"""Arrange helpers shared by the backbone's tests (events, tasks, users, push receivers)."""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from werkzeug.serving import make_server

from tests.fixture_support import fixture_sql
from tools.fakes.loopback_http import serve_in_thread

# Numbers handed out by unique_phone: a random start, then one after another, so no two calls in a
# process return the same number (random draws could collide within a test: a unique-key error,
# or the same member twice through upsert_by_phone).
_PHONE_NUMBERS = itertools.count(random.randrange(9_000_000))


def unique_phone() -> str:
    """A +1 415 number that no other call in this process has returned."""
    return f"+1415{next(_PHONE_NUMBERS) % 9_000_000 + 1_000_000}"


def make_user(db: Any, *, verified: bool = False, poc: str = "bouncer") -> uuid.UUID:
    """A member (approved with ``poc`` as point of contact when ``verified``)."""
    from shared.adapters.unit_of_work import PostgresUnitOfWork

    with PostgresUnitOfWork() as uow:
        member = uow.users.upsert_by_phone(unique_phone(), timezone=None)
        if verified:
            uow.users.approve(member.id, poc)
        uow.commit()
    return member.id


def add_event(
    db: Any, event_type: str, user_id: uuid.UUID | None, payload: dict[str, Any] | None = None
) -> uuid.UUID:
    """An event in the outbox, written the way a unit of work writes it."""
    from shared.adapters.unit_of_work import PostgresUnitOfWork
    from shared.domain.events import Event

    event = Event(event_type, "user" if user_id else None, user_id, payload or {"hello": "world"}, "test")
    with PostgresUnitOfWork() as uow:
        event_id = uow.events.add(event)
        uow.commit()
    return event_id


def add_task(
    db: Any,
    *,
    agent_type: str = "bouncer",
    task_type: str = "re_engagement_check",
    user_id: uuid.UUID | None = None,
    priority: str = "medium",
    due_offset: str = "-1 second",
    max_retries: int = 3,
) -> uuid.UUID:
    """A pending task due ``due_offset`` from now ("-1 second", "1 hour", "-10 minutes"), created the
    way agents create tasks (``uow.tasks.add``)."""
    from shared.adapters.repositories.tasks import NewTask
    from shared.adapters.unit_of_work import PostgresUnitOfWork

    amount, unit = due_offset.split()
    offset = timedelta(**{unit if unit.endswith("s") else unit + "s": int(amount)})
    task = NewTask(
        task_type=task_type,
        agent_type=agent_type,
        user_id=user_id,
        scheduled_for=datetime.now(UTC) + offset,
        priority=priority,
        context_json={},
        context_id=None,
        context_type=None,
        created_by="test",
        dedupe_key=f"test:{uuid.uuid4()}",
        max_retries=max_retries,
    )
    with PostgresUnitOfWork() as uow:
        task_id = uow.tasks.add(task)
        uow.commit()
    assert task_id is not None
    return task_id


def event_row(db: Any, event_id: uuid.UUID) -> dict[str, Any]:
    return cast(dict[str, Any], fixture_sql(db).one("check_event", event_id=event_id))


def task_row(db: Any, task_id: uuid.UUID) -> dict[str, Any]:
    return cast(dict[str, Any], fixture_sql(db).one("check_task", task_id=task_id))


def dead_letters(db: Any) -> list[dict[str, Any]]:
    return fixture_sql(db).all("check_dead_letters")


class Receiver:
    """A WSGI app served on a local port in a thread; counts the requests it saw."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[str] = []
        self._app = app
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        with self._lock:
            self.requests.append({"path": environ.get("PATH_INFO"), "body": body})

        def recording_start(status: str, headers: Any, exc_info: Any = None) -> Any:
            with self._lock:
                self.statuses.append(status)
            return start_response(status, headers, exc_info)

        return self._app(environ, recording_start)

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = serve_in_thread(self._server, "receiver")
        try:
            yield self
        finally:
            self._server.shutdown()
            thread.join(timeout=5)


PROBE_SOURCE = str(__import__("pathlib").Path(__file__).parent / "functions" / "consumer_probe" / "main.py")


def probe_client() -> Any:
    import functions_framework

    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "consumer_probe", PROBE_SOURCE
    ).test_client()


def function_app(target: str, source: str) -> Any:
    """A function's Flask app, loaded the way the Cloud Functions runtime loads it."""
    import functions_framework

    return functions_framework.create_app(target, source)  # type: ignore[no-untyped-call]


RECORDER_SOURCE = str(
    __import__("pathlib").Path(__file__).resolve().parents[1]
    / "functions"
    / "dead_letter_recorder"
    / "main.py"
)


def probe_and_recorder_app() -> Any:
    """One WSGI app for a push receiver: ``/agent_bouncer`` is the consumer probe,
    ``/dead_letter_recorder`` the real recorder function."""
    apps = {
        "agent_bouncer": function_app("consumer_probe", PROBE_SOURCE),
        "dead_letter_recorder": function_app("dead_letter_recorder", RECORDER_SOURCE),
    }

    def route(environ: dict[str, Any], start_response: Any) -> Any:
        name = environ["PATH_INFO"].strip("/")
        environ["PATH_INFO"] = "/"
        return apps[name](environ, start_response)

    return route


def push_body(
    message: Any,
    *,
    subscription: str = "projects/p/subscriptions/agent-bouncer-push",
    publish_time: str | None = None,
    message_id: str = "1001",
) -> dict[str, Any]:
    """What a push subscription posts for one published message (``OutboundMessage``)."""
    import base64
    from datetime import UTC, datetime

    when = publish_time or datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": dict(message.attributes),
            "messageId": message_id,
            "publishTime": when,
        },
        "subscription": subscription,
    }


def handled_count(db: Any, delivery_id: Any) -> int:
    return int(fixture_sql(db).scalar("check_probe_runs", delivery_id=delivery_id))
