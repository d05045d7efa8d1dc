"""The event loop the commands run on: uvloop's when it is installed (``pip install
'quietmail[fast]'``), asyncio's own otherwise.

Measured with ``tests/bench/bench_stacks.py --stacks quietmail`` (issue 14): with every check
on, uvloop's loop cut the relay's CPU per message by 8-10% and raised its throughput by about
15%, mostly in socket writes and wake-ups from the checks' threads. Nothing else changes: the
same coroutines run, and uvloop is an optional dependency.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        uvloop = importlib.import_module("uvloop")  # optional: no import the type checker needs
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop ``loop_factory`` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
