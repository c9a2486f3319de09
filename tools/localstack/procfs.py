"""One reader of ``/proc/<pid>/stat`` for the local tools: the guard (which processes still live,
by process group), ``pgcluster`` (whether a throwaway cluster's owner still lives) and
``bench.pipeline`` (which process used how much CPU, by parent)."""

from __future__ import annotations

import os
from dataclasses import dataclass

PID_LIMIT = 2**22  # Linux's largest pid_max: a larger "pid" is garbage, not a process


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the tools read."""

    state: str  # R, S, D, Z (zombie), X (dead), ...
    ppid: int
    pgrp: int
    cpu_seconds: float  # user + system time


def parse_stat(text: str, ticks: int) -> ProcStat:
    """One stat line. The command name (field 2) is in parentheses and may hold spaces and ")",
    so the fields are counted from its last ")"."""
    fields = text.rsplit(")", 1)[1].split()
    return ProcStat(
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        cpu_seconds=(int(fields[11]) + int(fields[12])) / ticks,
    )


def processes() -> dict[int, ProcStat]:
    """Every process on the machine; one that exits while it is read is left out."""
    ticks = os.sysconf("SC_CLK_TCK")
    table: dict[int, ProcStat] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                table[int(entry.name)] = parse_stat(stat.read(), ticks)
        except (OSError, IndexError, ValueError):
            continue  # it exited while we looked
    return table


def live_processes() -> dict[int, ProcStat]:
    """Every process that has not exited: a zombie (exited, not yet reaped by its parent, seconds
    in some containers) is left out."""
    return {pid: proc for pid, proc in processes().items() if proc.state not in ("Z", "X")}
