"""The operator CLI's one console.

With no terminal on any standard stream (cron, a CI log, a script's captured output) and no
``COLUMNS``, rich lays tables out for 80 columns and cuts what does not fit: `ops community`
printed its dates as "2026-1…". There this console prints ``NO_TERMINAL_WIDTH`` wide, so every
cell is whole. In a terminal, or with ``COLUMNS`` set, rich's own width stands. Decided each time
it prints (a rich ``Console`` reads ``COLUMNS`` once, when it is made), not when the CLI's modules
are imported.
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console

NO_TERMINAL_WIDTH = 160  # columns when no standard stream is a terminal


def _has_terminal() -> bool:
    """What rich asks too: does any of stdin, stdout, stderr have a terminal size?"""
    for fd in (0, 1, 2):
        try:
            os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        return True
    return False


def _width() -> int | None:
    """None (rich decides) in a terminal or with COLUMNS set; else ``NO_TERMINAL_WIDTH``."""
    return None if os.environ.get("COLUMNS") or _has_terminal() else NO_TERMINAL_WIDTH


class OpsConsole:
    """``print`` as rich's, on a console sized when it prints."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    def print(self, *objects: Any, **kwargs: Any) -> None:
        Console(stderr=self._stderr, width=_width()).print(*objects, **kwargs)


def ops_console(*, stderr: bool = False) -> OpsConsole:
    return OpsConsole(stderr=stderr)
