"""The runner's stop request: set by SIGTERM, polled by its main loop.

A signal handler must not take a lock. Python runs a handler in the main thread between two
bytecodes, so a second signal can run a second handler in the middle of the first.
``threading.Event.set`` takes the Event's condition lock (not re-entrant): when a second SIGTERM
arrived while the first handler was inside ``set()``, the second handler waited for a lock its
own thread held, and the runner never stopped. That is what ``make run`` gets from a
``kill -TERM`` of its process group: one SIGTERM from the kill, a second forwarded by make to its
child. A script sending such pairs hung 11 stops in 200 (``tests/unit/test_stop_signal.py`` sends
them too), which is most likely the intermittent "the stack did not stop within 180 s of SIGTERM"
of ``tests/e2e/test_local_stack_direct_push.py``: there the runner never printed "stopping".
Here the handler only appends to a list, which takes no lock.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

POLL_SECONDS = 0.1  # a signal delivered to another thread does not wake the main thread's sleep


class StopRequest:
    def __init__(self) -> None:
        self._received: list[int] = []

    def install(self, *signums: int) -> None:
        for signum in signums:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._received.append(signum)  # no lock: see the module's docstring

    @property
    def requested(self) -> bool:
        return bool(self._received)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, less once a stop is requested; True when one has been."""
        deadline = time.monotonic() + seconds
        while not self._received:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, POLL_SECONDS))
        return self.requested
