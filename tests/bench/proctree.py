"""CPU time and resident memory summed over process trees, read from /proc (Linux).

A stack's CPU is the sum, over every process descending from its roots, of the process's own
user + system time and the time of the children it has already reaped (``cutime``/``cstime``).
A child that exits between two readings moves from the first term to its parent's second, so
the difference of two readings counts it exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _stat(int(name))) is not None:
            parents[int(name)] = int(fields[1])
    return parents


def tree(roots: Iterable[int]) -> list[int]:
    """Every live process under (and including) ``roots``."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(roots: Iterable[int]) -> float:
    ticks = 0
    for pid in tree(roots):
        if (fields := _stat(pid)) is not None:
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / TICK


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss_bytes(roots: Iterable[int]) -> int:
    """Proportional set size: each shared page divided among the processes sharing it, so
    twenty smtpd processes do not count the same libraries twenty times."""
    return sum(_pss(pid) for pid in tree(roots))
