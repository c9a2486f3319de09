"""``tools/localstack/procfs.py``: the one reader of /proc/<pid>/stat."""

from __future__ import annotations

import os

from tools.localstack.procfs import parse_stat, processes

# A stat line whose command name holds spaces and ")" (a process may name itself anything).
LINE = "4242 (gunicorn: a) b) S 17 4242 4242 0 -1 4194560 900 0 0 0 250 130 0 0 20 0 9 0 1 2 3"


def test_fields_are_counted_from_the_last_parenthesis() -> None:
    stat = parse_stat(LINE, ticks=100)
    assert (stat.state, stat.ppid, stat.pgrp) == ("S", 17, 4242)
    assert stat.cpu_seconds == 3.8  # (utime 250 + stime 130) / 100


def test_this_process_is_listed_with_its_parent_and_group() -> None:
    me = processes()[os.getpid()]
    assert (me.ppid, me.pgrp) == (os.getppid(), os.getpgrp())
    assert me.state in ("R", "S") and me.cpu_seconds > 0
