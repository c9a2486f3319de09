"""A loopback HTTP server speaking the part of Apify's API v2 an Actor call uses, for tests.

The real ``apify-client`` runs against it end to end:

- ``POST /v2/actors/{actorId}/runs`` (or ``/v2/acts/...``), the run input as JSON -> 201 ``{"data": <Run>}``;
- ``GET /v2/actor-runs/{runId}?waitForFinish=N`` -> ``{"data": <Run>}`` (SUCCEEDED);
- ``GET /v2/datasets/{datasetId}/items`` -> the JSON array of items, with the pagination headers
  (``X-Apify-Pagination-Offset/Limit/Count/Total``).

The Run object carries the fields of Apify's documented run (id, actId, userId, startedAt, finishedAt,
status, meta, stats, options, buildId, defaultDatasetId, ...). A request without the bearer token the fake
was started with answers 401 ``{"error": {"type": "token-not-valid", ...}}``, as Apify does.

Scripts: ``fake.items_for(actor_id, items)`` sets what a run of that Actor yields (default: []);
``fake.fail_next(status)`` makes the next run end FAILED. ``fake.inputs`` holds every run input received.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from tools.fakes.loopback_http import StandinHTTPServer, serve_in_thread


def _id() -> str:
    return secrets.token_hex(9)[:17]


class ApifyFake:
    def __init__(self, token: str = "apify_test_token", host: str = "127.0.0.1", port: int = 0) -> None:  # noqa: S107
        self.token = token
        self._items: dict[str, list[dict[str, Any]]] = {}
        self._runs: dict[str, dict[str, Any]] = {}
        self._datasets: dict[str, list[dict[str, Any]]] = {}
        self._fail_next = False
        self.inputs: list[tuple[str, Any]] = []
        self._server = StandinHTTPServer((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = serve_in_thread(self._server, "apify-fake")
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def items_for(self, actor_id: str, items: list[dict[str, Any]]) -> None:
        self._items[actor_id.replace("/", "~")] = items

    def fail_next(self) -> None:
        self._fail_next = True

    def start_run(self, actor_id: str, run_input: Any) -> dict[str, Any]:
        actor = actor_id.replace("/", "~")
        self.inputs.append((actor, run_input))
        dataset_id = _id()
        failed, self._fail_next = self._fail_next, False
        self._datasets[dataset_id] = [] if failed else list(self._items.get(actor, []))
        run = _run(actor, dataset_id, "FAILED" if failed else "SUCCEEDED")
        self._runs[run["id"]] = run
        return run

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self._runs.get(run_id)

    def dataset(self, dataset_id: str) -> list[dict[str, Any]] | None:
        return self._datasets.get(dataset_id)


def _run(actor: str, dataset_id: str, status: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": _id(),
        "actId": actor,
        "userId": _id(),
        "actorTaskId": None,
        "startedAt": now,
        "finishedAt": now,
        "status": status,
        "statusMessage": "Finished" if status == "SUCCEEDED" else "The Actor failed",
        "isStatusMessageTerminal": True,
        "meta": {"origin": "API", "userAgent": "ApifyClient"},
        "stats": {
            "inputBodyLen": 240,
            "restartCount": 0,
            "resurrectCount": 0,
            "computeUnits": 0.001,
        },
        "options": {"build": "latest", "timeoutSecs": 300, "memoryMbytes": 1024, "diskMbytes": 2048},
        "buildId": _id(),
        "exitCode": 0 if status == "SUCCEEDED" else 1,
        "defaultKeyValueStoreId": _id(),
        "defaultDatasetId": dataset_id,
        "defaultRequestQueueId": _id(),
        "buildNumber": "0.0.1",
        "containerUrl": "https://abc.runs.apify.net",
        "usageTotalUsd": 0.0004,
        "generalAccess": "FOLLOW_USER_SETTING",
    }


def _handler_for(fake: ApifyFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {fake.token}":
                return True
            self._send(
                401, {"error": {"type": "token-not-valid", "message": "Authentication token is not valid."}}
            )
            return False

        def _parts(self) -> list[str]:
            return [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]

        def do_POST(self) -> None:
            if not self._authorised():
                return
            parts = self._parts()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if len(parts) == 4 and parts[1] in ("acts", "actors") and parts[3] == "runs":
                try:
                    run_input = json.loads(raw) if raw else None
                except ValueError:
                    self._send(
                        400, {"error": {"type": "invalid-input", "message": "Input is not valid JSON."}}
                    )
                    return
                self._send(201, {"data": fake.start_run(parts[2], run_input)})
                return
            self._send(
                404,
                {
                    "error": {
                        "type": "page-not-found",
                        "message": "We have bad news: there is no API endpoint at this URL.",
                    }
                },
            )

        def do_GET(self) -> None:
            if not self._authorised():
                return
            parts = self._parts()
            if len(parts) == 3 and parts[:2] == ["v2", "actor-runs"]:
                run = fake.run(parts[2])
                if run is not None:
                    self._send(200, {"data": run})
                    return
            if len(parts) == 4 and parts[:2] == ["v2", "datasets"] and parts[3] == "items":
                items = fake.dataset(parts[2])
                if items is not None:
                    count = str(len(items))
                    self._send(
                        200,
                        items,
                        {
                            "X-Apify-Pagination-Offset": "0",
                            "X-Apify-Pagination-Limit": "1000",
                            "X-Apify-Pagination-Count": count,
                            "X-Apify-Pagination-Total": count,
                            "X-Apify-Pagination-Desc": "false",
                        },
                    )
                    return
            self._send(404, {"error": {"type": "record-not-found", "message": "Record was not found"}})

    return Handler
