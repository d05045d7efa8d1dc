"""The commands' event loop: uvloop's when installed (the ``fast`` extra), asyncio's else."""

from __future__ import annotations

import asyncio
import importlib.util

from forwarder.cli import loop


def test_run_returns_the_coroutines_result() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert loop.run(answer()) == 42


def test_uvloop_is_used_exactly_when_installed() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    module = loop.run(loop_module())
    if importlib.util.find_spec("uvloop") is not None:
        assert module.startswith("uvloop")
    else:
        assert module.startswith("asyncio")
