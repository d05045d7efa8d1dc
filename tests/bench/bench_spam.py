"""Throughput with rspamd on next to off: ``.venv/bin/python -m tests.bench.bench_spam``.

Starts Debian's rspamd with the shipped configuration (tests/support/rspamd.py), then runs
bench_relay's ``--split`` load (DNS server, sink and clients in a child process) against the
relay with every check on, alternating rounds without and with rspamd, and reports per
round msg/s, the relay's CPU per message, and rspamd's CPU per message (read from /proc for
every process of its group). Medians are printed at the end. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from tests.bench.bench_relay import Options, split
from tests.support.rspamd import running_rspamd


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the process group (rspamd forks workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def one_round(opts: Options) -> tuple[float, float]:
    _, figures = await split(opts)
    return opts.total / figures["through"], 1000 * figures["cpu"] / opts.total


def main(rounds: int, messages: int, clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_rspamd(Path(tmp)) as rspamd:
        pgid = rspamd.process_group
        results: dict[str, list[tuple[float, float, float]]] = {"off": [], "on": []}
        for number in range(rounds):
            for name, url in (("off", ""), ("on", rspamd.url)):
                opts = Options(messages, clients, 10 * 1024, True, True, False, url)
                before = group_cpu_seconds(pgid)
                rate, relay_ms = asyncio.run(one_round(opts))
                # rspamd's CPU includes the warm-up and tracemalloc passes (2.5x the load).
                spent = group_cpu_seconds(pgid) - before
                rspamd_ms = 1000 * spent / (messages * 1.5 + clients * 2) if url else 0.0
                results[name].append((rate, relay_ms, rspamd_ms))
                print(
                    f"round {number + 1} rspamd {name:3}: {rate:7.1f} msg/s, relay "
                    f"{relay_ms:.2f} ms CPU/msg, rspamd {rspamd_ms:.2f} ms CPU/msg",
                    flush=True,
                )
        for name, rows in results.items():
            rate, relay_ms, rspamd_ms = (statistics.median(col) for col in zip(*rows, strict=True))
            print(
                f"median rspamd {name:3}: {rate:7.1f} msg/s, relay {relay_ms:.2f} ms, "
                f"rspamd {rspamd_ms:.2f} ms CPU per message"
            )
        on, off = (statistics.median(r[0] for r in results[k]) for k in ("on", "off"))
        print(f"throughput with rspamd / without: {on / off:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    a = parser.parse_args()
    main(a.rounds, a.messages, a.clients)
