"""The platform's own latency, with the LLM taken out.

Drives the full local stack (``python -m tools.localstack``): the signed inbound webhook,
the NOTIFY relay, the dispatcher, Pub/Sub, the Bouncer (real ``anthropic`` client against a
scripted endpoint that answers instantly), the outbound row, the relay, the SMS sender and the
Twilio stand-in. Prints p50 and p99 of the time from the webhook request to the Twilio API
call, at 1 and at 20 concurrent simulated users.

Two Pub/Sub delivery settings, one stack each, in the same run (``--push``, issue 15):

- ``emulator``: the Pub/Sub emulator's push subscriptions deliver to the functions. The
  emulator keeps about two pushes in flight per subscription (the "push ceiling", measured in
  the same run by ``emulator_push_ceiling``); production Pub/Sub scales push delivery out.
- ``direct``: ``--push direct`` (``tools/localstack/direct_push.py``) delivers every published
  message straight to the functions' push endpoints, concurrently, with the same envelope,
  retries and ordering; its peak pushes in flight per subscription are printed as evidence.

As a same-run baseline it also times the bare signed webhook round trip (request to empty
TwiML), which every reply has to include; the overhead is p99 minus that baseline (median).

``--path concierge`` (issue 16) times the same round trip for approved members: the text is
routed to ``agent_concierge``, whose turn loads the member's context (goal, priorities, open
requests), makes its two calls (answered instantly), runs the guards and writes the reply. The
simulated users are made members beforehand through the same repository calls onboarding and
an operator's approval make (no welcome is queued, so only replies reach the stand-in).

Usage: ``python -m bench.pipeline [--messages 5] [--concurrency 1 20] [--path bouncer concierge]
[--push emulator direct] [--breakdown]``. ``--breakdown`` prints, after each level, the CPU per
reply of each function, of each function's PostgreSQL backends (named by the process at the
other end of their socket), of the runner (stand-ins, relay, direct push) and of the emulator.
Every level also prints the whole machine's CPU per reply, split into the stack, this process
(the simulated phones and the Anthropic stand-in, which share the cores but are not the stack)
and the rest: a closed loop's latency follows the machine's figure.
Targets: p50 <= 150 ms (issue 4); p99 overhead <= 500 ms with the
emulator's push ceiling taken out (issue 15).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench._stack import start_stack, stop_stack
from bench.queries import bench_sql
from bench.speed_probe import best_time
from shared import config
from shared.adapters import postgres
from shared.adapters.repositories.users import ProfileFields
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import RUNAWAY_GUARD_MAX_SMS, RUNAWAY_GUARD_WINDOW
from shared.domain.phone import guess_timezone
from tools.fakes.anthropic_api import AnthropicFake, instant_responder
from tools.localstack.pgcluster import read_postmaster_pid
from tools.localstack.phone import send_sms, sent_messages, wait_for_replies
from tools.localstack.procfs import processes
from tools.localstack.stack_info import StackInfo

ROOT = Path(__file__).resolve().parent.parent


BREAKDOWN_SHOWN_MS = 0.05  # --breakdown leaves out components below this CPU per reply


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def one_user(info: StackInfo, phone: str, messages: int) -> tuple[list[float], list[float]]:
    """Send messages one after another, each after the previous reply; return latencies (s)."""
    to_twilio: list[float] = []
    webhook: list[float] = []
    seen = len(sent_messages(info, phone))
    for i in range(messages):
        started = time.time()
        response = send_sms(info, phone, f"message {i} from the benchmark")
        webhook.append(time.time() - started)
        response.raise_for_status()
        # A long poll: the stand-in answers when the reply arrives; its own clock stamps it.
        new = wait_for_replies(info, phone, seen, timeout=60)
        if not new:
            raise SystemExit(f"{phone}: no reply within 60 s to message {i}")
        to_twilio.append(float(new[0]["received_at"]) - started)
        time.sleep(0.05)  # let any second part of a sequence land before the next message
        seen = len(sent_messages(info, phone))
    return to_twilio, webhook


def make_members(info: StackInfo, phones: list[str]) -> None:
    """Onboarded, email-verified members approved for the Concierge, in the stack's database."""
    os.environ["DATABASE_URL"] = info.database_url
    config.reset_settings_cache()
    with PostgresUnitOfWork() as uow:
        for i, phone in enumerate(phones):
            user = uow.users.upsert_by_phone(phone, timezone=guess_timezone(phone))
            uow.users.update_profile(
                user.id,
                ProfileFields(first_name="Bench", last_name=f"Member{i}", company="Globex", title="CTO"),
            )
            uow.users.mark_email_verified(user.id, f"bench{i}@globex.example")
            uow.users.complete_onboarding(user.id)
            uow.users.approve(user.id, "concierge")
        uow.commit()


def phones_for(path: str, users: int, offset: int) -> list[str]:
    exchange = "556" if path == "bouncer" else "557"
    return [f"+1415{exchange}{offset + i:04d}" for i in range(users)]


def run_level(
    info: StackInfo, users: int, messages: int, offset: int, path: str = "bouncer"
) -> tuple[list[float], list[float]]:
    phones = phones_for(path, users, offset)
    if path == "concierge":
        make_members(info, phones)
    to_twilio: list[float] = []
    webhook: list[float] = []
    with ThreadPoolExecutor(max_workers=users) as pool:
        for a, b in pool.map(lambda p: one_user(info, p, messages), phones):
            to_twilio += a
            webhook += b
    return to_twilio, webhook


def emulator_push_ceiling(info: StackInfo, pushes: int = 20, hold: float = 0.1) -> int:
    """How many pushes the Pub/Sub emulator keeps in flight for one subscription (a slow
    endpoint, many ordering keys). Production Pub/Sub scales push delivery out; the emulator
    does not, and every agent turn locally waits behind this ceiling."""
    from http.server import BaseHTTPRequestHandler

    from google.cloud import pubsub_v1

    from tools.fakes.loopback_http import StandinHTTPServer, serve_in_thread
    from tools.localstack.stack_info import PROJECT

    os.environ["PUBSUB_EMULATOR_HOST"] = info.pubsub_emulator_host
    state = {"active": 0, "peak": 0, "done": 0}
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state["active"] += 1
                state["peak"] = max(state["peak"], state["active"])
            time.sleep(hold)
            with lock:
                state["active"] -= 1
                state["done"] += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = StandinHTTPServer(("127.0.0.1", 0), Slow)
    serve_in_thread(server, "push-ceiling")
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, "bench-push-ceiling")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(
        request={
            "name": subscriber.subscription_path(PROJECT, "bench-push-ceiling"),
            "topic": topic,
            "push_config": {"push_endpoint": f"http://127.0.0.1:{server.server_address[1]}/"},
        }
    )
    for future in [publisher.publish(topic, b"x") for _ in range(pushes)]:
        future.result()
    deadline = time.monotonic() + 60
    while state["done"] < pushes and time.monotonic() < deadline:
        time.sleep(0.05)
    server.shutdown()
    return state["peak"]


@dataclass
class Level:
    """One measured level: a path and a number of concurrent users in one delivery mode."""

    push: str
    path: str
    users: int
    to_twilio: list[float]
    webhook: list[float]
    cpu: float = 0.0  # CPU seconds the stack (functions, emulator, runner, Postgres) used, less idle
    components: dict[str, float] = field(default_factory=dict)  # --breakdown: CPU s by component
    busy: float = 0.0  # share of the machine's core time in use during the level (all processes)
    steal: float = 0.0  # share taken by the hypervisor (/proc/stat steal): a slower machine, not the stack
    probe: float = 0.0  # speed_probe() seconds just before the level: how fast the machine ran then
    probe_all: float = 0.0  # parallel_speed_probe() seconds just before the level: every core busy
    elapsed: float = 0.0  # seconds the level took
    client: float = 0.0  # CPU seconds of this process (the phones and the Anthropic stand-in) in the level

    @property
    def cpu_per_reply(self) -> float:
        return self.cpu / max(1, len(self.to_twilio))

    @property
    def machine_per_reply(self) -> float:
        """CPU seconds the whole machine spent per reply (every process and the kernel; the
        host's steal left out): what a closed loop's latency follows, the stack's share or not."""
        cores = os.cpu_count() or 1
        return max(0.0, self.busy - self.steal) * cores * self.elapsed / max(1, len(self.to_twilio))

    @property
    def client_per_reply(self) -> float:
        return self.client / max(1, len(self.to_twilio))

    @property
    def cpu_floor(self) -> float:
        """The least time a burst of ``users`` texts can take on this machine's cores, were the
        stack alone on them: the CPU it needs divided by the cores (no queueing counted)."""
        return self.users * self.cpu_per_reply / (os.cpu_count() or 1)

    @property
    def p50(self) -> float:
        return statistics.median(self.to_twilio)

    @property
    def p99(self) -> float:
        return percentile(self.to_twilio, 99)

    @property
    def baseline(self) -> float:
        """The bare signed webhook round trip (request to empty TwiML), median, same level."""
        return statistics.median(self.webhook)

    @property
    def overhead(self) -> float:
        """What the pipeline adds at p99 beyond the webhook round trip every reply includes."""
        return self.p99 - self.baseline


def run_mode(push: str, args: argparse.Namespace, env: dict[str, str]) -> tuple[list[Level], dict[str, Any]]:
    """Start the stack with ``--push push``, measure every path and level, stop it. Returns the
    levels and what the mode's delivery did (emulator: the push-ceiling probe; direct: the
    server's own counts, peak pushes in flight per subscription)."""
    state_dir = Path(tempfile.mkdtemp(prefix="yp-bench-"))
    state_dir.chmod(0o755)
    print(f"\n== push mode: {push} (load average {load_average()})", flush=True)
    proc, info = start_stack(state_dir, env, push=push, echo=False)
    evidence: dict[str, Any] = {}
    levels: list[Level] = []
    postmaster = postmaster_pid(state_dir)
    roots = [proc.pid, postmaster]  # the runner's tree and the private server
    try:
        # Warm-up at the measured concurrency: the first requests pay imports, and each request
        # thread its first pooled connections; warmed with two users, a level of 20 paid that inside.
        warm_from = datetime.now(UTC)
        for path in args.path:
            run_level(info, max(args.concurrency), 2, 9000, path)
        evidence["warm_up_turns"] = turn_paths(info, warm_from)
        timed_from = datetime.now(UTC)
        idle_by: dict[str, float] = {}
        if args.breakdown:
            idle_from, idle_started = cpu_by_pid(roots), time.monotonic()
        idle = idle_cpu_rate(roots)  # the stack's own background: scheduler sweeps, idle workers
        if args.breakdown:
            idle_seconds = time.monotonic() - idle_started
            idle_cpu = component_cpu(idle_from, roots, postmaster, info)
            idle_by = {label: cpu / idle_seconds for label, cpu in idle_cpu.items()}
        print(f"   stack CPU while idle: {idle * 1000:.0f} ms/s (subtracted below)", flush=True)
        levels += timed_levels(
            push, args, info, roots=roots, postmaster=postmaster, idle=idle, idle_by=idle_by
        )
        evidence["timed_turns"] = turn_paths(info, timed_from)
        print(
            f"   turns by path: warm-up {evidence['warm_up_turns']}, timed levels {evidence['timed_turns']}",
            flush=True,
        )
        failed = evidence["warm_up_turns"].get("graceful", 0) + evidence["timed_turns"].get("graceful", 0)
        if failed:
            print(f"   WARNING: {failed} turn(s) failed and answered with the graceful reply", flush=True)
        if push == "emulator":
            evidence["push_ceiling"] = emulator_push_ceiling(info)
            print(f"   emulator push ceiling: {evidence['push_ceiling']} in flight", flush=True)
    finally:
        postgres.close_pool()  # this process's pool points at this stack's database (make_members)
        stop_stack(proc)
    stats = state_dir / "direct-push-stats.json"
    if stats.exists():
        evidence["direct"] = json.loads(stats.read_text())
        print(f"   direct push: {evidence['direct']}", flush=True)
    if args.keep_state:
        print(f"   state directory (logs) kept: {state_dir}", flush=True)
    else:
        shutil.rmtree(state_dir, ignore_errors=True)  # kept for inspection when the run failed
    return levels, evidence


def timed_levels(
    push: str,
    args: argparse.Namespace,
    info: StackInfo,
    *,
    roots: list[int],
    postmaster: int,
    idle: float,
    idle_by: dict[str, float],
) -> list[Level]:
    """Every path at every concurrency, each level printed as it ends (with ``--breakdown``, its
    CPU by component less each component's idle rate ``idle_by``)."""
    levels: list[Level] = []
    for path in args.path:
        for i, users in enumerate(args.concurrency):
            probe, probe_all = speed_probe(), parallel_speed_probe()  # outside the timed window
            by_pid = cpu_by_pid(roots) if args.breakdown else {}
            cpu_before, started = stack_cpu_seconds(roots), time.monotonic()
            machine_before, client_before = machine_cpu(), own_cpu_seconds()
            to_twilio, webhook = run_level(info, users, args.messages, i * 100, path)
            elapsed = time.monotonic() - started
            client = own_cpu_seconds() - client_before
            cpu = max(0.0, stack_cpu_seconds(roots) - cpu_before - idle * elapsed)
            busy, steal = machine_share(machine_before, machine_cpu())
            level = Level(
                push,
                path,
                users,
                to_twilio,
                webhook,
                cpu,
                busy=busy,
                steal=steal,
                probe=probe,
                probe_all=probe_all,
                elapsed=elapsed,
                client=client,
            )
            levels.append(level)
            print_level(level)
            print(
                f"      machine: cores {busy:.0%} busy, {steal:.1%} stolen by the host; "
                f"speed probe before the level {probe * 1000:.1f} ms alone, "
                f"{probe_all * 1000:.1f} ms on every core at once",
                flush=True,
            )
            print(f"      {machine_account(level)}", flush=True)
            if args.breakdown:
                level.components = component_cpu(by_pid, roots, postmaster, info)
                print_breakdown(level, idle_by, elapsed)
    return levels


HEADER = (
    "push",
    "path",
    "users",
    "msgs",
    "p50 ms",
    "p99 ms",
    "max ms",
    "webhook p50",
    "webhook p99",
    "overhead",
    "cpu/reply",
    "cpu floor",
)
ROW = "{:>8} {:>9} {:>6} {:>6} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>9} {:>9}"


def print_level(level: Level) -> None:
    print(
        ROW.format(
            level.push,
            level.path,
            level.users,
            len(level.to_twilio),
            f"{level.p50 * 1000:.1f}",
            f"{level.p99 * 1000:.1f}",
            f"{max(level.to_twilio) * 1000:.1f}",
            f"{level.baseline * 1000:.1f}",
            f"{percentile(level.webhook, 99) * 1000:.1f}",
            f"{level.overhead * 1000:.1f}",
            f"{level.cpu_per_reply * 1000:.1f}",
            f"{level.cpu_floor * 1000:.0f}",
        ),
        flush=True,
    )


def turn_paths(info: StackInfo, since: datetime) -> dict[str, int]:
    """The agents' turns since ``since`` by how they were answered (``llm``; ``graceful`` is a
    turn that failed, whose member got the apology instead of an answer)."""
    with postgres.connect(info.database_url, autocommit=True) as conn:
        rows = bench_sql(conn).all("bench_turn_paths", since=since)
    return {str(row["path"]): int(row["n"]) for row in rows}


def postmaster_pid(state_dir: Path) -> int:
    """The stack's private PostgreSQL server (its first line of postmaster.pid), or 0."""
    return read_postmaster_pid(state_dir / "pg") or 0


def idle_cpu_rate(roots: list[int], seconds: float = 5.0) -> float:
    """CPU seconds per second the stack spends with no traffic."""
    before = stack_cpu_seconds(roots)
    time.sleep(seconds)
    return (stack_cpu_seconds(roots) - before) / seconds


@dataclass(frozen=True)
class Proc:
    ppid: int
    cpu: float  # user + system seconds
    cmdline: str


def proc_table() -> dict[int, Proc]:
    """Every process of the machine (/proc): parent, CPU seconds used, command line."""
    table: dict[int, Proc] = {}
    for pid, stat in processes().items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[pid] = Proc(stat.ppid, stat.cpu_seconds, cmdline)
    return table


def descendants(table: dict[int, Proc], roots: list[int]) -> set[int]:
    """These processes and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    todo, seen = [pid for pid in roots if pid], set()
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo += children.get(pid, [])
    return seen


def stack_cpu_seconds(roots: list[int]) -> float:
    """User + system CPU seconds of these processes and all their descendants (/proc): the
    runner (stand-ins, relay, direct push), the functions' gunicorn masters and workers, the
    emulator, and the PostgreSQL server with its backends. The benchmark's own clients are not
    counted."""
    table = proc_table()
    return sum(table[pid].cpu for pid in descendants(table, roots) if pid in table)


def process_label(table: dict[int, Proc], functions: dict[int, str], pid: int) -> str:
    """What a process of the stack is: a function (its gunicorn master and worker hold the
    function's listening socket; both rename themselves "gunicorn: ..."), the emulator, or the
    runner (stand-ins, relay, direct push, guard)."""
    seen: set[int] = set()
    while pid in table and pid not in seen:
        seen.add(pid)
        if pid in functions:
            return functions[pid]
        if "pubsub-emulator" in table[pid].cmdline:
            return "emulator"
        if "tools.localstack" in table[pid].cmdline:
            return "runner"
        pid = table[pid].ppid
    return "other"


def _socket_owners() -> dict[int, list[int]]:
    """Local TCP port -> pids of the processes holding a socket on it (/proc/net/tcp, fds)."""
    inode_port: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                inode_port[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    owners: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{entry}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inode_port:
                        owners.setdefault(inode_port[link[8:-1]], []).append(int(entry))
    return owners


def stack_labels(info: StackInfo, table: dict[int, Proc]) -> tuple[dict[int, str], dict[int, str]]:
    """(function process pid -> function, PostgreSQL backend pid -> the label of its client)."""
    owners = _socket_owners()
    functions: dict[int, str] = {}
    for name, url in info.function_urls.items():
        port = urlsplit(url).port
        for pid in owners.get(port or 0, []):
            functions[pid] = name
    with postgres.connect(info.database_url, autocommit=True) as conn:
        rows = bench_sql(conn).all("bench_backend_client_ports")
    backends: dict[int, str] = {}
    for row in rows:
        clients = owners.get(row["client_port"], [])
        backends[row["pid"]] = process_label(table, functions, clients[0]) if clients else "other"
    return functions, backends


def cpu_by_pid(roots: list[int]) -> dict[int, float]:
    """CPU seconds of each process of the stack (the roots and their descendants)."""
    table = proc_table()
    return {pid: table[pid].cpu for pid in descendants(table, roots) if pid in table}


def component_cpu(
    before: dict[int, float], roots: list[int], postmaster: int, info: StackInfo
) -> dict[str, float]:
    """CPU seconds by component since ``before``: each function, the PostgreSQL backends of
    each ("pg:<function>"), the runner, the emulator, PostgreSQL's own processes ("pg:server").
    Backends are named by the process at the other end of their socket, looked up now (the
    functions' pools keep their connections, so the backends of the level are still there)."""
    table = proc_table()
    server = descendants(table, [postmaster]) if postmaster else set()
    functions, backends = stack_labels(info, table)
    totals: dict[str, float] = {}
    for pid in descendants(table, roots):
        proc = table.get(pid)
        if proc is None:
            continue
        in_server = pid in server
        label = "pg:" + backends.get(pid, "server") if in_server else process_label(table, functions, pid)
        totals[label] = totals.get(label, 0.0) + proc.cpu - before.get(pid, 0.0)
    return totals


def print_breakdown(level: Level, idle: dict[str, float], elapsed: float) -> None:
    """Each component's CPU per reply at this level, less its own idle rate."""
    replies = max(1, len(level.to_twilio))
    rows = sorted(
        ((cpu - idle.get(label, 0.0) * elapsed) / replies, label) for label, cpu in level.components.items()
    )
    for per_reply, label in reversed(rows):
        if abs(per_reply) >= BREAKDOWN_SHOWN_MS / 1000:
            print(f"      {label:<28} {per_reply * 1000:6.1f} ms/reply", flush=True)


SPEED_PROBE_ROUNDS = 3  # speed_probe keeps the best of this many timings
SPEED_PROBE_ITERATIONS = 700  # JSON round trips per timing (about 20 ms on the 2-core machine)


def speed_probe() -> float:
    """Seconds ``bench.speed_probe``'s fixed single-threaded workload takes in this process (best
    of ``SPEED_PROBE_ROUNDS``). The same code on the same machine measured 44 to 55 ms of CPU per
    reply from one run to the next: a slower probe says the host, not the change, moved the figures."""
    return best_time(SPEED_PROBE_ROUNDS, SPEED_PROBE_ITERATIONS)


PROBE_START_DELAY = 0.5  # seconds: every child is running (and spinning) before the timing starts


def parallel_speed_probe(workers: int | None = None) -> float:
    """``speed_probe``'s workload in one process per core, all timed at the same moment; the
    slowest worker's best (seconds). Alone, the machine reads the same before every level; with
    every core busy, a host that shares cores between this machine's CPUs reads slower."""
    count = workers or os.cpu_count() or 1
    start_at = time.time() + PROBE_START_DELAY
    argv = [str(start_at), str(SPEED_PROBE_ROUNDS), str(SPEED_PROBE_ITERATIONS)]
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.speed_probe", *argv], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    results = [float(child.communicate(timeout=60)[0]) for child in children]
    return max(results)


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process, all its threads (the simulated phones and the
    Anthropic stand-in), its children not counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_account(level: Level) -> str:
    """Where the machine's CPU per reply went: the stack (as ``cpu/reply``), this benchmark's own
    process, and the rest (the stack's idle background, the kernel's threads, other processes)."""
    machine, stack, client = level.machine_per_reply, level.cpu_per_reply, level.client_per_reply
    return (
        f"CPU per reply on the whole machine {machine * 1000:.1f} ms: the stack {stack * 1000:.1f}, "
        f"this benchmark's phones and Anthropic stand-in {client * 1000:.1f}, "
        f"the rest {(machine - stack - client) * 1000:.1f} (the stack's idle background, "
        "the kernel's own threads, other processes)"
    )


def machine_cpu() -> list[int]:
    """The machine's CPU time counters (``/proc/stat``'s first line, in clock ticks): user,
    nice, system, idle, iowait, irq, softirq, steal; an empty list where /proc is missing."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return []


def machine_share(before: list[int], after: list[int]) -> tuple[float, float]:
    """Between two ``machine_cpu()`` readings: the busy share of all cores' time (everything
    but idle and iowait) and the share stolen by the hypervisor."""
    if len(before) < 8 or len(after) < 8:
        return 0.0, 0.0
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta)
    if total <= 0:
        return 0.0, 0.0
    idle = delta[3] + delta[4]
    return (total - idle) / total, delta[7] / total


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--messages", type=int, default=5, help="messages per simulated user")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20])
    parser.add_argument(
        "--path", nargs="+", choices=("bouncer", "concierge"), default=["bouncer", "concierge"]
    )
    parser.add_argument(
        "--push",
        nargs="+",
        choices=("emulator", "direct"),
        default=["emulator", "direct"],
        help="Pub/Sub delivery modes to measure, one stack each, in this run",
    )
    parser.add_argument(
        "--keep-state", action="store_true", help="keep each stack's state directory (function logs)"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="after each level, the CPU per reply of each function, its PostgreSQL backends, the runner",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.messages <= RUNAWAY_GUARD_MAX_SMS:
        # The runaway guard holds an 11th SMS to one member within 10 minutes, as it should: a
        # longer run would report that hold as a reply that never came.
        parser.error(
            f"--messages must be 1 to {RUNAWAY_GUARD_MAX_SMS}: each member gets one reply per text, "
            f"and the runaway guard sends no member more than {RUNAWAY_GUARD_MAX_SMS} SMS "
            f"in {RUNAWAY_GUARD_WINDOW}"
        )

    fake = AnthropicFake(responder=instant_responder).start()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"ANTHROPIC_API_KEY": "bench-key-not-secret", "ANTHROPIC_BASE_URL": fake.base_url})
    # Time the machinery, not the deliberate pause that lets a burst of texts settle (BURST_QUIET_GAP).
    env["BURST_QUIET_GAP_SECONDS"] = "0"
    load_before = load_average()
    levels: list[Level] = []
    evidence: dict[str, dict[str, Any]] = {}
    print("\n" + ROW.format(*HEADER))
    try:
        for push in args.push:
            mode_levels, evidence[push] = run_mode(push, args, env)
            levels += mode_levels
    finally:
        fake.stop()
    print("\n" + ROW.format(*HEADER))
    for level in levels:
        print_level(level)
    print(f"\nload average (1, 5, 15 min): before {load_before}; after {load_average()} (2 cores)")
    print("overhead = p99 (webhook request -> Twilio API call) minus the bare-webhook baseline (p50)")
    print(
        "cpu/reply = CPU ms the whole stack spent per reply at that level (less its idle CPU); "
        "cpu floor = users x cpu/reply "
        f"/ {os.cpu_count()} cores: the least a burst of that many texts takes with the cores to itself"
    )
    print("target (issue 15): p99 overhead <= 500 ms with the ceiling taken out; issue 4: p50 <= 150 ms")
    print_comparison(levels)
    ceiling = evidence.get("emulator", {}).get("push_ceiling")
    if ceiling is not None:
        print(
            f"emulator push ceiling, same run: {ceiling} request(s) in flight per subscription "
            "(a slow endpoint, 20 messages on 20 ordering keys)"
        )
    direct = evidence.get("direct", {}).get("direct")
    if direct:
        peaks = ", ".join(f"{sub.rsplit('/', 1)[-1]} {n}" for sub, n in direct["peak_in_flight"].items())
        print(
            f"direct push, same run: {direct['pushes']} pushes ({direct['nacked']} refused and retried); "
            f"peak in flight per subscription: {peaks}"
        )
    print(f"LLM calls answered by the scripted endpoint: {len(fake.requests)}")
    return 0


def print_comparison(levels: list[Level]) -> None:
    """Per path, at the highest concurrency measured: each mode's p99 and overhead side by side."""
    top = max((level.users for level in levels), default=0)
    for path in dict.fromkeys(level.path for level in levels):
        row = {level.push: level for level in levels if level.path == path and level.users == top}
        parts = [
            f"{push} p99 {level.p99 * 1000:.0f} ms, overhead {level.overhead * 1000:.0f} ms "
            f"(cpu floor {level.cpu_floor * 1000:.0f} ms)"
            for push, level in row.items()
        ]
        print(f"{path}, {top} concurrent users: " + "; ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
