"""Fixtures of the fault suite: one ``FaultStack`` per module (tests/faults/stack.py)."""

from __future__ import annotations

import io
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from shared import bootstrap, config
from shared.adapters import postgres, pubsub
from tests.conftest import PgServer
from tools.fakes.loopback_http import serve_in_thread
from tools.fakes.twilio_api import start_in_thread
from tools.localstack import pubsub_emulator

from .stack import FUNCTIONS_DIR, FaultStack, discover_functions


def _functions_app() -> Callable[..., Any]:
    """Every function under functions/, loaded as Cloud Functions loads it, on one WSGI app:
    ``/<function>/...`` goes to that function (it sees the whole path, as behind a URL map);
    ``/_sink/`` acknowledges pushes for consumers that are not built yet."""
    import functions_framework

    apps = {
        name: functions_framework.create_app(name, str(FUNCTIONS_DIR / name / "main.py"))  # type: ignore[no-untyped-call]
        for name in discover_functions()
    }

    def route(environ: dict[str, Any], start_response: Any) -> Any:
        name = environ.get("PATH_INFO", "/").strip("/").split("/", 1)[0]
        if name not in apps:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"].read(length)
            start_response("204 No Content", [])
            return [b""]
        environ["wsgi.input"] = io.BytesIO(
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        )
        return apps[name](environ, start_response)

    return route


@pytest.fixture(scope="module")
def fault_stack(pg_server: PgServer, template_db: str) -> Iterator[FaultStack]:
    name = f"f_{uuid.uuid4().hex[:12]}"
    database_url = pg_server.create_database(name, template=template_db)
    state = Path(tempfile.mkdtemp(prefix="yp-faults-"))
    (state / "pubsub").mkdir()
    emulator = pubsub_emulator.start(project=f"yp-faults-{uuid.uuid4().hex[:8]}", data_dir=state / "pubsub")
    standin = start_in_thread(auth_token="pending")
    apps: list[Callable[..., Any]] = []  # the functions' app, once the settings are in place

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if not apps:
            start_response("503 Service Unavailable", [])
            return [b""]
        return apps[0](environ, start_response)

    server = make_server("127.0.0.1", 0, serve, threaded=True)
    stack = FaultStack(database_url, emulator, standin, f"http://127.0.0.1:{server.server_port}", state)
    standin.state.auth_token = stack.auth_token
    standin.set_status_callback_auth(stack.auth_token)
    serve_in_thread(server, "twilio-standin")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in stack.env(stack.base_url).items():
            mp.setenv(key, value)
        config.reset_settings_cache()
        apps.append(_functions_app())
        stack.ensure_topology()
        stack.start_relay()
        try:
            yield stack
        finally:
            if stack.relay is not None:
                stack.relay.stop()
            stack.stop_processes()
            server.shutdown()
            standin.stop()
            pubsub_emulator.stop(stack.emulator)
            pubsub.reset_publisher()
            postgres.close_pool()
            config.reset_settings_cache()
            pg_server.drop_database(name)
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def stack_settings(fault_stack: FaultStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process functions read the stack's settings (the root conftest clears secrets).
    Not autouse: other modules in tests/faults run without a FaultStack."""
    for key, value in fault_stack.env(fault_stack.base_url).items():
        monkeypatch.setenv(key, value)
    config.reset_settings_cache()
    bootstrap.reset()
    _clear_failures(fault_stack)
    yield
    _clear_failures(fault_stack)  # a test's unused injected failures never reach the next one
    fault_stack.stop_processes()
    bootstrap.reset()
    config.reset_settings_cache()


def _clear_failures(stack: FaultStack) -> None:
    with stack.standin.state.lock:
        stack.standin.state.failures.clear()
