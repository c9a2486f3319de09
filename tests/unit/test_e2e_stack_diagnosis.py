"""A failed e2e test reports what its stack said: the runner's last lines and the log of each
function the runner saw exit (``tests/e2e/conftest.py::stack_diagnosis``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import cast

from tests.e2e.conftest import RunningStack, stack_diagnosis
from tools.localstack.stack_info import StackInfo


def stack(tmp_path: Path, output: list[str], code: int) -> RunningStack:
    proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"], text=True)
    proc.wait(timeout=30)
    return RunningStack(
        info=cast(StackInfo, None), proc=proc, output=output, state_dir=tmp_path, reader=threading.Thread()
    )


def test_a_dead_stack_shows_its_last_output_and_the_logs_of_the_functions_that_exited(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "sms_sender.log").write_text("booting\n[ERROR] Connection in use: ('127.0.0.1', 41234)\n")
    (logs / "twilio_status.log").write_text("this function did not exit\n")
    output = [f"line {i}" for i in range(100)] + ["function(s) exited: sms_sender, agent_bouncer; see /x"]
    text = stack_diagnosis(stack(tmp_path, output, 1))
    assert "runner: exited with 1" in text
    assert "line 99" in text and "line 50" not in text  # only the last lines
    assert "Connection in use" in text  # the exited function's log
    assert "--- agent_bouncer.log (last lines) ---\n(no log)" in text
    assert "did not exit" not in text  # a function still running is not shown


def test_a_running_stack_with_no_exit_shows_only_its_output(tmp_path: Path) -> None:
    text = stack_diagnosis(stack(tmp_path, ["running; press Ctrl-C to stop"], 0))
    assert "running; press Ctrl-C" in text and ".log" not in text
