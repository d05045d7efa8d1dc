"""Running the ``quietmail`` CLI in tests: in this process through ``main(argv)`` (its own
environment, working directory, standard streams and logging, one run at a time), or as a
real subprocess for the smoke tests."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from forwarder.cli import main

ROOT = Path(__file__).resolve().parents[3]  # tests/forwarder/cli/ -> the repository
PASSWORD = "correct horse battery staple"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETMAIL_")}
    env["QUIETMAIL_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


_IN_PROCESS = threading.Lock()  # environment, streams and cwd are the process's: one at a time


def _in_process(
    args: list[str], stdin: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``main(args)`` as a subprocess would see it: only ``env``, ROOT as working directory,
    ``stdin`` on standard input, standard output and error captured, and logging not yet
    configured (so ``main`` sets it up on the captured standard error, as in a new process)."""
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    with _IN_PROCESS:
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        saved_streams, saved_handlers = (sys.stdin, sys.stdout, sys.stderr), root.handlers[:]
        saved_level = root.level
        os.environ.clear()
        os.environ.update(env)
        os.chdir(ROOT)
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
        root.handlers.clear()
        try:
            status = main(args)
        except SystemExit as exc:  # argparse: usage errors and --help
            status = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
    return subprocess.CompletedProcess(["quietmail", *args], status, out.getvalue(), err.getvalue())


def make_cli(data_dir: Path, *, subprocesses: bool = False) -> Cli:
    def run(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        if not subprocesses:
            return _in_process(list(args), stdin, cli_env(data_dir, **env))
        return subprocess.run(
            [sys.executable, "-m", "forwarder.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=cli_env(data_dir, **env),
            timeout=60,
        )

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout
