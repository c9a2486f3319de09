"""Shows each row of the fault suite failing on deliberately broken code (not collected by pytest).

    python -m tests.faults.break_check [NAME ...]

For each break: a scratch copy of the tracked files, one edit to production code, the row's test
run there; the break is "caught" when the test fails. Prints one line per break. The edits are
the ones named in the tests' docstrings and in docs/testing.md.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Break:
    name: str
    path: str
    old: str
    new: str
    test: str  # pytest -k expression in tests/faults/test_faults.py
    also: tuple[tuple[str, str, str], ...] = ()  # further (path, old, new) edits of the same break


BREAKS = [
    Break(
        "sweep-does-nothing",
        "shared/entrypoints.py",
        "        report = dispatch_events(deps.publisher, uow_factory=deps.uow_factory)\n",
        "        if trigger == 'sweep':\n            return {'trigger': trigger}\n"
        "        report = dispatch_events(deps.publisher, uow_factory=deps.uow_factory)\n",
        "crash_between",
    ),
    Break(
        "sender-claims-any-status",
        "shared/service_layer/send_sms.py",
        'if message.status != "pending":',
        'if message.status not in ("pending", "queued", "sent", "delivered", "sending"):',
        "redelivered_three_times",
        also=(
            (
                "shared/adapters/sql/messages.sql",
                "AND direction = 'outbound' AND status = 'pending'\nRETURNING id, attempts;",
                "AND direction = 'outbound'\nRETURNING id, attempts;",
            ),
        ),
    ),
    Break(
        "429-not-retried",
        "shared/adapters/twilio_sms.py",
        "retryable = exc.status == 429 or exc.status >= 500",
        "retryable = exc.status >= 500",
        "429_and_500_bursts",
    ),
    Break(
        "llm-unavailable-silent",
        "shared/agents/conversation/turn.py",
        "    except LlmUnavailable as exc:\n",
        "    except LlmUnavailable as exc:\n        return TurnResult(status='silent', path='llm')\n",
        "unavailable_llm and 529",
    ),
    Break(
        "transient-error-acknowledged",
        "shared/service_layer/consumer.py",
        '{exc}"},\n        )\n        raise\n    log.info("delivery handled"',
        '{exc}"},\n        )\n        return Outcome.HANDLED\n    log.info("delivery handled"',
        "connection_dropped",
    ),
    Break(
        "failed-publish-marked-processed",
        "shared/service_layer/dispatch_events.py",
        "        if outcome.ok:\n",
        "        if True:\n",
        "emulator_restarts",
    ),
]


def scratch_copy() -> Path:
    target = Path(tempfile.mkdtemp(prefix="yp-breaks-"))
    target.chmod(0o755)
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in names.decode().split("\0"):
        source = ROOT / name
        if not name or source.is_symlink() or not source.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    return target


def main(argv: list[str]) -> int:
    chosen = [b for b in BREAKS if not argv or b.name in argv]
    copy = scratch_copy()
    try:
        for item in chosen:
            edits = [(item.path, item.old, item.new), *item.also]
            originals = {path: (copy / path).read_text() for path, _, _ in edits}
            missing = [path for path, old, _ in edits if old not in originals[path]]
            if missing:
                print(f"{item.name}: the code to break was not found in {missing}", flush=True)
                continue
            for path, old, new in edits:
                target = copy / path
                target.write_text(target.read_text().replace(old, new, 1))
            try:
                result = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly",
                     "tests/faults/test_faults.py", "-k", item.test],
                    cwd=copy, capture_output=True, text=True, timeout=900, check=False,
                )  # fmt: skip
                tail = result.stdout.strip().splitlines()[-1:] or [""]
                verdict = "caught" if result.returncode != 0 else "NOT CAUGHT"
                print(f"{item.name}: {verdict} ({tail[0]})", flush=True)
            finally:
                for path, text in originals.items():
                    (copy / path).write_text(text)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
