"""The three servers ``bench.framework_floor`` times: nothing of the project, only the framework.

- ``bare``: a WSGI app that answers "ok", served by gunicorn's gthread worker (the baseline);
- ``http_floor``: an HTTP function that answers "ok", served by functions-framework, which
  runs gunicorn's gthread worker under Flask, as Cloud Functions does and as every function of
  the local stack is served (``tools/localstack/serve.py``);
- ``push_floor``: a CloudEvent function that does nothing: a Pub/Sub push body goes through
  functions-framework's conversion to a CloudEvent first, as every push handler's does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent
from flask import Request


def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


@functions_framework.http
def http_floor(request: Request) -> str:
    return "ok"


@functions_framework.cloud_event
def push_floor(cloud_event: CloudEvent) -> None:
    return None
