"""The local Pub/Sub emulator and the topology the routing table asks for.

``start()`` runs ``gcloud beta emulators pubsub start`` (the Google Cloud CLI and Java are on
these machines) and waits until it answers; ``stop()`` ends it. ``ensure_topology()`` creates,
from ``shared.routing``, for every deployed consumer:

- its topic and ``<topic>-dead-letter`` topic;
- a push subscription ``<topic>-push`` to the consumer's function, with message ordering for
  ordered consumers, retry backoff 10 s - 600 s and a dead-letter policy of 5 attempts;
- a push subscription ``<topic>-dead-letter-push`` on the dead-letter topic to the
  ``dead_letter_recorder`` function.

What the emulator does with these (checked against gcloud 528's emulator): it accepts and
stores the retry and dead-letter policies, honours ordering keys, ignores filters, pushes the
raw ``{"message": ..., "subscription": ...}`` JSON body, and redelivers a failed push after
the ack deadline rather than the retry backoff. It was not observed forwarding to the
dead-letter topic, so the dead_letter_recorder is exercised by publishing to the dead-letter
topic directly. Usage: ``python -m tools.localstack.pubsub_emulator [--port N] [--project P]``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests

from shared.domain.constants import (
    PUBSUB_ACK_DEADLINE,
    PUBSUB_MAX_BACKOFF,
    PUBSUB_MAX_DELIVERY_ATTEMPTS,
    PUBSUB_MIN_BACKOFF,
)
from shared.routing import (
    DEAD_LETTER_RECORDER_FUNCTION,
    Consumer,
    all_topics,
    dead_letter_subscription,
    dead_letter_topic,
    push_subscription,
)
from tools.localstack.pgcluster import free_port

DEFAULT_PROJECT = "yachtparty-local"
# The dead_letter_recorder as a push target (it has no topic of its own).
DEAD_LETTER_RECORDER = Consumer(
    DEAD_LETTER_RECORDER_FUNCTION, DEAD_LETTER_RECORDER_FUNCTION, topic="", ordered=False
)


class EmulatorError(RuntimeError):
    pass


@dataclass
class PubSubEmulator:
    host: str
    port: int
    project: str
    process: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None
    log_path: Path | None = field(default=None)

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.host_port, "GOOGLE_CLOUD_PROJECT": self.project}


def is_ready(host_port: str, timeout: float = 1.0) -> bool:
    try:
        return requests.get(f"http://{host_port}/", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def start(
    project: str = DEFAULT_PROJECT,
    port: int | None = None,
    *,
    host: str = "127.0.0.1",
    data_dir: Path | None = None,
    timeout: float = 90.0,
    on_spawn: Callable[[int], None] | None = None,
) -> PubSubEmulator:
    """Start the emulator in its own process group and wait until it answers. ``on_spawn`` is
    told the group's id as soon as the process exists (the local stack's orphan guard)."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorError("gcloud not found: install the Google Cloud CLI with the pubsub emulator")
    port = port or free_port()
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="yp-pubsub-"))
    log_path = data_dir / "emulator.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [
            gcloud,
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port={host}:{port}",
            f"--project={project}",
            f"--data-dir={data_dir}",
            "--quiet",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if on_spawn is not None:
        on_spawn(process.pid)
    emulator = PubSubEmulator(host, port, project, process, data_dir, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"the emulator exited ({process.returncode}); see {log_path}")
        if is_ready(emulator.host_port):
            return emulator
        time.sleep(0.25)
    stop(emulator)
    raise EmulatorError(f"the emulator did not answer within {timeout:.0f} s; see {log_path}")


def stop(emulator: PubSubEmulator) -> None:
    """End the emulator's process group (gcloud starts Java as a child)."""
    process = emulator.process
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def ensure_topology(
    project: str,
    push_endpoint: Callable[[Consumer], str],
    *,
    ack_deadline: timedelta = PUBSUB_ACK_DEADLINE,
    min_backoff: timedelta = PUBSUB_MIN_BACKOFF,
    max_backoff: timedelta = PUBSUB_MAX_BACKOFF,
) -> list[str]:
    """Create every topic and push subscription the routing table needs; returns the subscription
    paths. Existing ones are left alone. ``push_endpoint(DEAD_LETTER_RECORDER)`` gives the
    recorder's URL. Needs ``PUBSUB_EMULATOR_HOST`` in the environment (or real credentials)."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    created: list[str] = []

    def seconds(value: timedelta) -> duration_pb2.Duration:
        return duration_pb2.Duration(seconds=int(value.total_seconds()))

    def topic(name: str) -> str:
        path = str(publisher.topic_path(project, name))
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(name=path)
        return path

    def subscription(name: str, request: dict[str, object]) -> None:
        path = str(subscriber.subscription_path(project, name))
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(request={"name": path, **request})
        created.append(path)

    try:
        for topic_name, consumer in all_topics():
            main = topic(topic_name)
            dead = topic(dead_letter_topic(topic_name))
            subscription(
                push_subscription(consumer),
                {
                    "topic": main,
                    "push_config": {"push_endpoint": push_endpoint(consumer)},
                    "ack_deadline_seconds": int(ack_deadline.total_seconds()),
                    "enable_message_ordering": consumer.ordered,
                    "retry_policy": {
                        "minimum_backoff": seconds(min_backoff),
                        "maximum_backoff": seconds(max_backoff),
                    },
                    "dead_letter_policy": {
                        "dead_letter_topic": dead,
                        "max_delivery_attempts": PUBSUB_MAX_DELIVERY_ATTEMPTS,
                    },
                },
            )
            subscription(
                dead_letter_subscription(topic_name),
                {
                    "topic": dead,
                    "push_config": {"push_endpoint": push_endpoint(DEAD_LETTER_RECORDER)},
                    "ack_deadline_seconds": int(ack_deadline.total_seconds()),
                },
            )
    finally:
        publisher.stop()
        subscriber.close()
    return created


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Run the Pub/Sub emulator until interrupted.")
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    args = parser.parse_args(argv)
    emulator = start(args.project, args.port)
    print(f"Pub/Sub emulator on {emulator.host_port} (project {emulator.project}); Ctrl-C stops it")
    print(f"export PUBSUB_EMULATOR_HOST={emulator.host_port} GOOGLE_CLOUD_PROJECT={emulator.project}")
    try:
        while emulator.process is not None and emulator.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop(emulator)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
