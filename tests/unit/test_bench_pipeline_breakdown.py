"""bench.pipeline --breakdown: how it names the stack's processes (a made-up process table)."""

from __future__ import annotations

from bench.pipeline import Proc, descendants, process_label

RUNNER, GUARD, MASTER, WORKER, JAVA, GCLOUD, STRANGER = 10, 11, 20, 21, 30, 31, 99
TABLE = {
    1: Proc(0, 0.0, "init"),
    RUNNER: Proc(1, 1.0, "python -m tools.localstack --no-chat"),
    GUARD: Proc(RUNNER, 0.1, "python -m tools.localstack.guard --log x"),
    MASTER: Proc(RUNNER, 0.5, "gunicorn: master [functions_framework]"),
    WORKER: Proc(MASTER, 2.0, "gunicorn: worker [functions_framework]"),
    GCLOUD: Proc(RUNNER, 0.1, "python gcloud beta emulators pubsub start"),
    JAVA: Proc(GCLOUD, 3.0, "java -jar /usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/x.jar"),
    STRANGER: Proc(1, 9.0, "python something else"),
}


def test_a_gunicorn_worker_is_named_by_the_function_whose_socket_its_master_holds() -> None:
    assert process_label(TABLE, {MASTER: "agent_bouncer"}, WORKER) == "agent_bouncer"
    assert process_label(TABLE, {WORKER: "sms_sender"}, WORKER) == "sms_sender"


def test_the_emulator_the_runner_and_strangers() -> None:
    assert process_label(TABLE, {}, JAVA) == "emulator"
    assert process_label(TABLE, {}, GUARD) == "runner"
    assert process_label(TABLE, {}, WORKER) == "runner"  # no socket known: its ancestor decides
    assert process_label(TABLE, {}, STRANGER) == "other"


def test_descendants_are_the_roots_and_everything_below_them() -> None:
    assert descendants(TABLE, [RUNNER]) == {RUNNER, GUARD, MASTER, WORKER, GCLOUD, JAVA}
    assert descendants(TABLE, [MASTER, 0]) == {MASTER, WORKER}  # 0: no private server to count
