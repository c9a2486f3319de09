"""The local stack runner: ``make run`` (``python -m tools.localstack``).

Starts, in order:
1. PostgreSQL: a private cluster under ``<state-dir>/pg`` when ``DATABASE_URL`` is unset,
   with the migrations and the demo seed applied;
2. the Pub/Sub emulator, with topics and push subscriptions created from ``shared.routing``;
3. the Twilio stand-in (the real ``twilio`` client is pointed at it) and the Stripe stand-in
   (``STRIPE_API_BASE``; paying posts signed events to ``stripe_webhook``);
4. every function under ``functions/``, each under functions-framework on its own port (bound by
   the runner and handed over: ``serve.py``);
5. the NOTIFY relay that stands in for pg_net, and the scheduler loop (``shared.schedules``);
then prints a health summary and, on a terminal, opens the phone simulator. Ctrl-C stops
everything it started. Before all of them it starts the orphan guard (``guard.py``), a watchdog
in its own session that is told each child process as it starts: if the runner dies without
its orderly stop (SIGKILL, the OOM killer), the guard stops the functions, the emulator and the
cluster. Ports and local-only secrets are written to ``<state-dir>/stack.json``
(``tools/localstack/stack_info.py``) so the phone simulator (``make chat``), the operator CLI
and outside scripts can attach from another terminal.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests

from shared.adapters.postgres import TURN_CONNECTIONS
from shared.schedules import ScheduledJob, active_jobs
from tools.localstack import serve
from tools.localstack.guard import GuardClient, group_alive, start_guard
from tools.localstack.pgcluster import PgCluster, accepts_connections, free_port
from tools.localstack.pubsub_emulator import is_ready as is_emulator_ready
from tools.localstack.stack_info import DEFAULT_STATE_DIR, PROJECT, StackInfo, stack_file
from tools.localstack.stop_signal import StopRequest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
LOCAL_DB = "yachtparty"
LOCAL_ACCOUNT_SID = "AC" + "0" * 30 + "10"  # a well-formed, obviously local account SID
LOCAL_FROM_NUMBER = "+15005550006"
LOCAL_EMAIL_DOMAIN = "verify.yachtparty.local"

FUNCTION_THREADS = 8  # gunicorn threads per local function (Cloud Run concurrency stand-in)
RELAY_LISTEN_TIMEOUT = 15.0  # seconds the start-up waits for the relay's LISTEN
EMULATOR_STOP_TIMEOUT = 10.0  # seconds the emulator's java gets to follow gcloud out at stop

# Webhook targets of the yp_webhook trigger -> function folder.
WEBHOOK_TARGETS = ("sms_sender", "event_dispatcher", "task_sweeper", "message_orchestrator")


def discover_functions() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/main.py"))


def _local_secrets(state_dir: Path) -> dict[str, str]:
    """Random per checkout, kept between runs; never real credentials."""
    path = state_dir / "local-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    values = {
        "twilio_auth_token": secrets.token_hex(16),
        "webhook_signing_secret": secrets.token_hex(32),
        "email_webhook_secret": secrets.token_hex(32),
        "stripe_secret_key": "sk_test_local_" + secrets.token_hex(12),
        "stripe_webhook_secret": "whsec_local_" + secrets.token_hex(16),
        **stored,
    }
    if values != stored:
        path.write_text(json.dumps(values))
        path.chmod(0o600)
    return values


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


@contextmanager
def postgres(state_dir: Path, external_url: str | None, guard: GuardClient | None = None) -> Iterator[str]:
    from tools.localstack.migrate import migrate, seed

    postmaster: int | None = None
    if external_url:
        url = external_url
        say("PostgreSQL: using DATABASE_URL")
        yield_cluster = None
    else:
        port_file = state_dir / "pg.port"
        port = int(port_file.read_text()) if port_file.exists() else free_port()
        port_file.write_text(str(port))
        yield_cluster = PgCluster(datadir=state_dir / "pg", port=port)
        yield_cluster.init()
        if guard is not None:  # first: a runner killed while pg_ctl waits leaves no orphan server
            guard.cluster(yield_cluster.datadir)
        if not yield_cluster.is_running():
            yield_cluster.start()
        postmaster = yield_cluster.postmaster_pid()
        if guard is not None and postmaster is not None:
            guard.postmaster(postmaster)
        url = yield_cluster.create_database(LOCAL_DB)
        say(f"PostgreSQL: private cluster on 127.0.0.1:{port} (data in {yield_cluster.datadir})")
    applied = migrate(url)
    seed(url)
    say(f"migrations: {len(applied)} applied now; demo seed loaded")
    try:
        yield url
    finally:
        if yield_cluster is not None and yield_cluster.stop():
            if guard is not None and postmaster is not None:
                guard.forget(postmaster)
            say("PostgreSQL stopped")


FUNCTION_START_TIMEOUT = 300.0  # seconds for all functions to answer after they are started together


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{url}: process exited with code {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(0.2)


def start_function(
    name: str, sock: socket.socket, env: dict[str, str], log_dir: Path
) -> subprocess.Popen[bytes]:
    """``functions/<name>`` under functions-framework on ``sock``, bound before (``serve.py``)."""
    with (log_dir / f"{name}.log").open("ab") as log_file:
        return serve.start_function(name, sock, env, stdout=log_file)


class SchedulerLoop:
    """Makes the Cloud Scheduler calls, signed like the database webhooks."""

    def __init__(self, urls: dict[str, str], secret: str) -> None:
        self._urls = urls
        self._secret = secret
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def jobs(self) -> list[ScheduledJob]:
        return [job for job in active_jobs() if job.function in self._urls]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from tools.localstack.relay import post_signed

        jobs = self.jobs
        next_run = {job.name: time.monotonic() for job in jobs}
        while not self._stop.is_set():
            now = time.monotonic()
            for job in jobs:
                if now >= next_run[job.name]:
                    next_run[job.name] = now + job.every_seconds
                    try:
                        post_signed(self._urls[job.function], self._secret, job.body)
                    except requests.RequestException as exc:
                        say(f"scheduler: {job.name} failed: {exc}")
            self._stop.wait(1.0)


def function_env(info: dict[str, Any], name: str, url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "PUBLIC_BASE_URL", "STRIPE_", "PROSPECT_UPLOAD_URL"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": info["database_url"],
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            # --push direct: the functions publish to the direct-push server (direct_push.py).
            "PUBSUB_EMULATOR_HOST": info.get("pubsub_publish_host") or info["pubsub_emulator_host"],
            "TWILIO_ACCOUNT_SID": LOCAL_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": info["twilio_auth_token"],
            "TWILIO_FROM_NUMBER": LOCAL_FROM_NUMBER,
            "TWILIO_API_BASE_URL": info["twilio_standin_url"],
            "TWILIO_STATUS_CALLBACK_URL": info["function_urls"].get("twilio_status", "") + "/",
            "PUBLIC_BASE_URL": url,
            "WEBHOOK_SIGNING_SECRET": info["webhook_signing_secret"],
            "EMAIL_WEBHOOK_SECRET": info["email_webhook_secret"],
            "VERIFY_EMAIL_DOMAIN": LOCAL_EMAIL_DOMAIN,
            "STRIPE_SECRET_KEY": info["stripe_secret_key"],
            "STRIPE_WEBHOOK_SECRET": info["stripe_webhook_secret"],
            "STRIPE_API_BASE": info["stripe_standin_url"],
            "PROSPECT_UPLOAD_URL": info["function_urls"].get("prospect_upload", "") + "/",
            "THREADS": str(FUNCTION_THREADS),
            # Connections a request thread may hold at once (TURN_CONNECTIONS): with fewer, 8
            # concurrent turns starve the pool until psycopg_pool's 30 s timeout and answer with
            # the graceful reply (found by tests/faults, and by a profiled bench.pipeline warm-up).
            "DATABASE_POOL_MAX": str(TURN_CONNECTIONS * FUNCTION_THREADS),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        }
    )
    return env


def run(args: argparse.Namespace) -> int:  # noqa: PLR0915 - a linear start-up script reads best in one place
    from tools.fakes import stripe_api, twilio_api
    from tools.localstack import pubsub_emulator
    from tools.localstack.relay import NotifyRelay

    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_dir = state_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    local = _local_secrets(state_dir)
    brain = (
        "Claude (ANTHROPIC_API_KEY is set)"
        if os.environ.get("ANTHROPIC_API_KEY")
        else ("the deterministic fallback brain (no ANTHROPIC_API_KEY)")
    )
    stop = StopRequest()
    stop.install(signal.SIGTERM)
    # `kill -USR1 <runner>` prints every thread's stack to the output: how a stop that hangs is seen.
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    with ExitStack() as stack:
        guard = start_guard(log_dir / "guard.log")
        stack.callback(guard.close)  # last: `exit` once everything below has been stopped
        db_url = stack.enter_context(
            postgres(state_dir, args.database_url or os.environ.get("DATABASE_URL"), guard)
        )

        pubsub_dir = state_dir / "pubsub"
        pubsub_dir.mkdir(exist_ok=True)
        emulator = pubsub_emulator.start(project=PROJECT, data_dir=pubsub_dir, on_spawn=guard.group)

        def _stop_emulator() -> None:
            pubsub_emulator.stop(emulator)  # waits for gcloud; its java may take a moment longer
            if emulator.process is None:
                return
            deadline = time.monotonic() + EMULATOR_STOP_TIMEOUT
            while group_alive(emulator.process.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not group_alive(emulator.process.pid):  # else the guard stops what is left
                guard.forget(emulator.process.pid)

        stack.callback(_stop_emulator)
        os.environ.update(emulator.env())
        say(f"Pub/Sub emulator on {emulator.host_port}")

        standin = twilio_api.start_in_thread(auth_token=local["twilio_auth_token"])
        stack.callback(standin.stop)
        say(f"Twilio stand-in on {standin.url}")

        names = discover_functions()
        # Each function's port is bound here and handed to it (serve.py): no other process can
        # take it between the choice and the function's start.
        socks = {name: serve.bind_loopback() for name in names}
        for sock in socks.values():
            stack.callback(sock.close)
        urls = {name: f"http://127.0.0.1:{serve.port_of(socks[name])}" for name in names}
        stripe = stripe_api.start_in_thread(
            api_key=local["stripe_secret_key"],
            webhook_secret=local["stripe_webhook_secret"],
            webhook_url=urls["stripe_webhook"] + "/" if "stripe_webhook" in urls else None,
        )
        stack.callback(stripe.stop)
        say(f"Stripe stand-in on {stripe.url}")
        info: dict[str, Any] = {
            "database_url": db_url,
            "function_urls": urls,
            "twilio_standin_url": standin.url,
            "twilio_auth_token": local["twilio_auth_token"],
            "twilio_account_sid": LOCAL_ACCOUNT_SID,
            "twilio_number": LOCAL_FROM_NUMBER,
            "webhook_signing_secret": local["webhook_signing_secret"],
            "email_webhook_secret": local["email_webhook_secret"],
            "verify_email_domain": LOCAL_EMAIL_DOMAIN,
            "pubsub_emulator_host": emulator.host_port,
            "brain": brain,
            "stripe_standin_url": stripe.url,
            "stripe_secret_key": local["stripe_secret_key"],
            "stripe_webhook_secret": local["stripe_webhook_secret"],
        }
        if args.push == "direct":
            info.update(start_direct_push(stack, urls, state_dir))
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name in names:
            procs[name] = start_function(name, socks[name], function_env(info, name, urls[name]), log_dir)
            guard.group(procs[name].pid)
            socks[name].close()  # the function holds the port now; it is freed when it exits

        def _stop_functions() -> None:
            killed = serve.stop_functions(procs, forget=guard.forget)
            if killed:
                say(
                    f"function(s) still running {serve.FUNCTION_STOP_GRACE:.0f} s after SIGTERM, killed: "
                    + ", ".join(killed)
                )

        stack.callback(_stop_functions)
        for name in names:
            # Every function imports its libraries at once: on a small, busy machine that takes minutes.
            wait_http(urls[name] + "/", timeout=FUNCTION_START_TIMEOUT, proc=procs[name])
        standin.set_status_callback_auth(local["twilio_auth_token"])

        pubsub_emulator.ensure_topology(PROJECT, push_endpoint=lambda consumer: urls[consumer.function] + "/")
        say("Pub/Sub topics and push subscriptions created from the routing table")

        relay_targets = [t for t in WEBHOOK_TARGETS if t in urls]
        relay_urls = {t: urls[t] + "/" for t in relay_targets}
        relay = NotifyRelay(db_url, relay_urls, local["webhook_signing_secret"])
        relay.start()
        stack.callback(relay.stop)
        if not relay.wait_listening(RELAY_LISTEN_TIMEOUT):
            say(f"relay: not listening after {RELAY_LISTEN_TIMEOUT:.0f} s; scheduler sweeps still deliver")
        scheduler = SchedulerLoop({n: u + "/" for n, u in urls.items()}, local["webhook_signing_secret"])
        scheduler.start()
        stack.callback(scheduler.stop)

        stack_info = StackInfo(**info, pids={n: p.pid for n, p in procs.items()})
        stack_info.save(stack_file(state_dir))
        print_health(
            stack_info,
            procs,
            log_dir,
            [
                ("postgresql", accepts_connections(db_url), describe_dsn(db_url)),
                ("notify relay", relay.alive, "LISTEN yp_webhook -> " + ", ".join(relay_targets)),
                ("scheduler loop", scheduler.alive, describe_jobs(scheduler.jobs)),
            ],
        )
        say(f"brain: {brain}")

        if args.chat and sys.stdin.isatty():
            from tools.localstack.phone import chat

            chat(stack_info, args.phone)
        else:
            say("running; press Ctrl-C to stop" + ("" if not args.chat else " (no terminal: simulator off)"))
            try:
                while not stop.wait(1.0):
                    dead = [n for n, p in procs.items() if p.poll() is not None]
                    if dead:
                        say(f"function(s) exited: {', '.join(dead)}; see {log_dir}")
                        return 1
            except KeyboardInterrupt:
                pass
        say("stopping")
    return 0


def start_direct_push(stack: ExitStack, urls: dict[str, str], state_dir: Path) -> dict[str, str]:
    """``--push direct``: the functions publish to a server that pushes straight to their push
    endpoints (no emulator push ceiling); the emulator keeps running for everything else."""
    from tools.localstack.direct_push import start_for_routing

    direct = start_for_routing(
        PROJECT,
        lambda consumer: urls[consumer.function] + "/",
        stats_path=state_dir / "direct-push-stats.json",
    )
    stack.callback(direct.stop)
    say(f"Pub/Sub direct push on {direct.host_port} (the functions publish here; --push direct)")
    return {"pubsub_push": "direct", "pubsub_publish_host": direct.host_port}


def describe_dsn(url: str) -> str:
    """host:port/dbname of a DSN, without credentials."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    return f"{parts.get('host', '')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def describe_jobs(jobs: list[ScheduledJob]) -> str:
    return ", ".join(f"{job.name} every {job.every_seconds}s" for job in jobs) or "no jobs"


def print_health(
    info: StackInfo,
    procs: dict[str, subprocess.Popen[bytes]],
    log_dir: Path,
    services: list[tuple[str, bool, str]] | None = None,
) -> None:
    """One line per part of the stack: the functions (process alive, answered HTTP at start),
    the Twilio stand-in, the emulator, and ``services`` as (name, healthy, detail)."""
    say("health:")
    for name, url in sorted(info.function_urls.items()):
        state = "up" if procs[name].poll() is None else f"exited({procs[name].returncode})"
        say(f"  {name:<22} {state:<8} {url}")
    # The emulator is a JVM: on a loaded machine it may take seconds to answer a health probe.
    emulator_state = "up" if is_emulator_ready(info.pubsub_emulator_host, timeout=15.0) else "DOWN"
    say(f"  {'twilio stand-in':<22} {'up':<8} {info.twilio_standin_url}")
    if info.stripe_standin_url:
        say(f"  {'stripe stand-in':<22} {'up':<8} {info.stripe_standin_url}")
    say(f"  {'pubsub emulator':<22} {emulator_state:<8} {info.pubsub_emulator_host}")
    if info.pubsub_publish_host:
        say(f"  {'pubsub direct push':<22} {'up':<8} {info.pubsub_publish_host} (the functions publish here)")
    for name, healthy, detail in services or []:
        say(f"  {name:<22} {'up' if healthy else 'DOWN':<8} {detail}")
    say(f"logs: {log_dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.localstack", description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="where the cluster and logs live")
    parser.add_argument("--database-url", default=None, help="use this database, not a private cluster")
    parser.add_argument(
        "--no-chat", dest="chat", action="store_false", help="do not open the phone simulator"
    )
    parser.add_argument("--phone", default="+14155550123", help="the simulator's phone number")
    parser.add_argument(
        "--push",
        choices=("emulator", "direct"),
        default=os.environ.get("YP_LOCAL_PUSH", "emulator"),
        help="who delivers published messages to the functions: the Pub/Sub emulator's push "
        "subscriptions (default), or straight to the push endpoints (tools/localstack/direct_push.py)",
    )
    args = parser.parse_args(argv)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started in the background by a non-interactive shell (CI, nohup ... &), SIGINT arrives
        # ignored and Python installs no Ctrl-C handler: a `kill -INT` would not stop the stack.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
    except KeyboardInterrupt:
        # Ctrl-C can land anywhere, also during start-up or cleanup; the ExitStack has
        # already stopped whatever had been started by the time we get here.
        return 0
    finally:
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
