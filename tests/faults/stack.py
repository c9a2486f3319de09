"""A small, controllable copy of the local stack for the fault suite.

The same parts as ``make run`` (tools/localstack/runner.py), wired the same way, but each one
within the test's reach so a fault can be injected for real:

- PostgreSQL: a database of the test session's cluster, migrated from the template;
- a Pub/Sub emulator of the suite's own (it is stopped and restarted by a test), with the
  routing table's topics and push subscriptions (``ensure_topology``);
- the Twilio stand-in (tools/fakes/twilio_api.py) in a thread, and optionally the loopback
  Anthropic Messages API (tools/fakes/anthropic_api.py);
- every function: in this process on one threaded WSGI server (``/<function>/``), except the
  ones a test names, which run under functions-framework as their own process (killable with
  SIGKILL, restartable on the same port);
- the NOTIFY relay that stands in for pg_net (tools/localstack/relay.py).

The scheduler's ticks are not on a timer: the tests post them (``tick``), so a sweep happens
exactly when the fault table says it does.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests
from psycopg.rows import dict_row

from shared.routing import DEAD_LETTER_RECORDER_FUNCTION
from tools.fakes.twilio_api import TwilioStandin
from tools.localstack import pubsub_emulator, serve
from tools.localstack.phone import sent_messages
from tools.localstack.relay import NotifyRelay, post_signed
from tools.localstack.stack_info import StackInfo

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
ACCOUNT_SID = "AC" + "0" * 30 + "15"
FROM_NUMBER = "+15005550006"
EMAIL_DOMAIN = "verify.yachtparty.local"
WEBHOOK_TARGETS = ("sms_sender", "event_dispatcher", "task_sweeper", "message_orchestrator")
SWEEP = {"sweep": True}


def discover_functions() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/main.py"))


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class FaultStack:
    database_url: str
    emulator: pubsub_emulator.PubSubEmulator
    standin: TwilioStandin
    base_url: str  # the in-process functions' server
    log_dir: Path
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    webhook_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    email_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    relay: NotifyRelay | None = None

    # --- addresses -----------------------------------------------------------------------
    def url(self, function: str) -> str:
        """Where ``function`` answers now: its own process when it has one, else in process."""
        if function in self.ports:
            return f"http://127.0.0.1:{self.ports[function]}"
        return f"{self.base_url}/{function}"

    @property
    def info(self) -> StackInfo:
        """What the phone simulator's helpers (tools/localstack/phone.py) need."""
        return StackInfo(
            database_url=self.database_url,
            function_urls={name: self.url(name) for name in discover_functions()},
            twilio_standin_url=self.standin.url,
            twilio_auth_token=self.auth_token,
            twilio_account_sid=ACCOUNT_SID,
            twilio_number=FROM_NUMBER,
            webhook_signing_secret=self.webhook_secret,
            email_webhook_secret=self.email_secret,
            verify_email_domain=EMAIL_DOMAIN,
            pubsub_emulator_host=self.emulator.host_port,
            brain="fault suite",
        )

    def env(self, public_base_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The settings of a function, as the runner gives them (``function_env``)."""
        return {
            "DATABASE_URL": self.database_url,
            "GOOGLE_CLOUD_PROJECT": self.emulator.project,
            "PUBSUB_EMULATOR_HOST": self.emulator.host_port,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": self.standin.url,
            "TWILIO_STATUS_CALLBACK_URL": self.url("twilio_status") + "/",
            "PUBLIC_BASE_URL": public_base_url,
            "WEBHOOK_SIGNING_SECRET": self.webhook_secret,
            "EMAIL_WEBHOOK_SECRET": self.email_secret,
            "VERIFY_EMAIL_DOMAIN": EMAIL_DOMAIN,
            "BURST_QUIET_GAP_SECONDS": "0",
            # As the local stack sizes it (tools/localstack/runner.py): 8 request threads, and
            # TURN_CONNECTIONS (3, shared/adapters/postgres.py) for each: the delivery's unit of
            # work, the turn's own, and a first turn's registration of its agent version.
            "THREADS": "8",
            "DATABASE_POOL_MAX": "24",
            **(extra or {}),
        }

    # --- function processes --------------------------------------------------------------
    def start_process(self, function: str, extra_env: Mapping[str, str] | None = None) -> None:
        """Run ``function`` under functions-framework as its own process (same port on a restart)."""
        # Bound here and handed over (tools/localstack/serve.py); a restart binds the same port again.
        sock = serve.bind_loopback(self.ports.get(function, 0))
        self.ports[function] = serve.port_of(sock)
        url = self.url(function)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "ANTHROPIC_"))}
        env.update(self.env(url, extra_env))
        env["PYTHONPATH"] = str(ROOT)
        with sock, (self.log_dir / f"{function}.log").open("ab") as log:
            proc = serve.start_function(function, sock, env, stdout=log)
        self.procs[function] = proc
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(url + "/", timeout=2)
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{function} did not start; see {self.log_dir}") from None
                time.sleep(0.2)
        self._retarget_relay()

    def kill(self, function: str) -> None:
        """SIGKILL the function's process group: no cleanup, no goodbye (a crashed instance)."""
        proc = self.procs.pop(function)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_processes(self) -> None:
        """Kill every function process and serve every function in process again."""
        for name in list(self.procs):
            self.kill(name)
        self.ports.clear()
        self._retarget_relay()

    # --- relay, topology, ticks ----------------------------------------------------------
    def start_relay(self) -> None:
        self.relay = NotifyRelay(
            self.database_url, {t: self.url(t) + "/" for t in WEBHOOK_TARGETS}, self.webhook_secret
        )
        self.relay.start()
        if not self.relay.wait_listening(30):
            raise RuntimeError("the NOTIFY relay is not listening")

    def _retarget_relay(self) -> None:
        if self.relay is not None:
            self.relay._targets = {t: self.url(t) + "/" for t in WEBHOOK_TARGETS}

    def ensure_topology(self) -> None:
        os.environ.update(self.emulator.env())

        def endpoint(consumer: Any) -> str:
            name = consumer.function
            if name == DEAD_LETTER_RECORDER_FUNCTION or (FUNCTIONS_DIR / name / "main.py").exists():
                return self.url(name) + "/"
            return self.base_url + "/_sink/"  # a consumer not built yet: acknowledged, not handled

        pubsub_emulator.ensure_topology(self.emulator.project, endpoint)

    def restart_emulator(self, down_for: Callable[[], None] | None = None) -> None:
        """Stop the emulator (everything it held is gone), run ``down_for``, start it again on
        the same port and recreate the topology, as an operator restarting it would."""
        pubsub_emulator.stop(self.emulator)
        if down_for is not None:
            down_for()
        self.emulator = pubsub_emulator.start(
            project=self.emulator.project, port=self.emulator.port, data_dir=self.emulator.data_dir
        )
        self.ensure_topology()

    def tick(self, function: str, body: Mapping[str, Any] = SWEEP) -> int:
        """One scheduler call (or database webhook) to ``function``, signed."""
        return post_signed(self.url(function) + "/", self.webhook_secret, body, timeout=60)

    # --- what happened -------------------------------------------------------------------
    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []

    def sent(self, phone: str | None = None) -> list[dict[str, Any]]:
        if phone is not None:
            return sent_messages(self.info, phone)
        response = requests.get(self.standin.url + "/_sent", timeout=10)
        response.raise_for_status()
        everything: list[dict[str, Any]] = response.json()
        return everything

    def replies(self, phone: str, at_least: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until the stand-in has sent ``at_least`` SMS to ``phone``; all of them."""
        return list(
            wait_for(
                lambda: (m := sent_messages(self.info, phone)) and len(m) >= at_least and m,
                timeout,
                f"{at_least} SMS to {phone}",
                every=0.5,
            )
        )

    def settle(self, seconds: float = 2.0) -> None:
        """Let late work (redeliveries, callbacks) land before counting."""
        time.sleep(seconds)

    def invariants(self) -> None:
        """What must hold over the whole database and the stand-in's log after any fault."""
        dup_sms = self.query(
            "SELECT twilio_message_sid, count(*) AS n FROM messages WHERE twilio_message_sid IS NOT NULL "
            "GROUP BY 1 HAVING count(*) > 1"
        )
        assert dup_sms == [], f"a Twilio SID stored twice: {dup_sms}"
        bodies: dict[tuple[str, str], int] = {}
        for sms in self.sent():
            key = (sms["to"], sms["body"])
            bodies[key] = bodies.get(key, 0) + 1
        outbound = self.query(
            "SELECT u.phone_number AS to, m.content AS body, count(*) AS n FROM messages m "
            "JOIN users u ON u.id = m.user_id WHERE m.direction = 'outbound' GROUP BY 1, 2"
        )
        allowed = {(r["to"], r["body"]): int(r["n"]) for r in outbound}
        twice = {k: n for k, n in bodies.items() if n > allowed.get(k, 0)}
        assert twice == {}, f"SMS sent more often than there are messages rows: {twice}"
        dup_marks = self.query(
            "SELECT consumer, delivery_key, count(*) AS n FROM processed_deliveries "
            "GROUP BY 1, 2 HAVING count(*) > 1"
        )
        assert dup_marks == []
