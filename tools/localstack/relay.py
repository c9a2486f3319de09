"""The local stand-in for pg_net: LISTEN on the webhook trigger's NOTIFY channel and make
the same HMAC-signed HTTP call that pg_net makes in Supabase (decisions A7).

The trigger function ``yp_webhook(target, body)`` notifies ``yp_webhook`` with
``{"target": ..., "body": {...}}``; the relay POSTs ``body`` to the target function's URL
with ``X-Yachtparty-Signature``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import requests

from shared.adapters.webhook_signing import SIGNATURE_HEADER, sign
from shared.logs import get_logger
from tools.fakes.loopback_http import loopback_request
from tools.localstack.pgcluster import listen

CHANNEL = "yp_webhook"
log = get_logger(__name__)


def post_signed(url: str, secret: str, body: Mapping[str, Any], timeout: float = 30.0) -> int:
    raw = json.dumps(body, separators=(",", ":")).encode()
    response = loopback_request(
        "POST",
        url,
        body=raw,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)},
        timeout=timeout,
    )
    return response.status_code


class NotifyRelay:
    """One background thread: LISTEN, and for each notification POST in a worker thread."""

    def __init__(
        self,
        dsn: str,
        targets: Mapping[str, str],
        secret: str,
        on_call: Callable[[str, int], None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._targets = dict(targets)
        self._secret = secret
        self._on_call = on_call
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-relay", daemon=True)
        self.calls = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """True once the relay's LISTEN is registered (notifications sent before are not seen)."""
        return self._listening.wait(timeout)

    @property
    def alive(self) -> bool:
        """Running and currently listening (False while it reconnects)."""
        return self._thread.is_alive() and self._listening.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    listen(conn, CHANNEL)
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5, stop_after=50):
                            self._dispatch(note.payload)
            except psycopg.OperationalError as exc:
                self._listening.clear()
                if self._stop.is_set():
                    return
                log.warning("relay lost its connection; reconnecting", extra={"error": str(exc)})
                time.sleep(1)

    def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            target = message["target"]
            body = message["body"]
        except (ValueError, KeyError, TypeError):
            log.error("relay got a malformed notification", extra={"payload": payload[:200]})
            return
        url = self._targets.get(target)
        if url is None:
            log.warning("relay has no URL for webhook target", extra={"target": target})
            return
        threading.Thread(target=self._call, args=(target, url, body), daemon=True).start()

    def _call(self, target: str, url: str, body: Mapping[str, Any]) -> None:
        try:
            status = post_signed(url, self._secret, body)
        except requests.RequestException as exc:
            self.failures += 1
            log.warning("relay call failed", extra={"target": target, "error": str(exc)})
            return
        self.calls += 1
        if status >= 400:
            self.failures += 1
            log.warning("relay call refused", extra={"target": target, "status": status})
        if self._on_call:
            self._on_call(target, status)
