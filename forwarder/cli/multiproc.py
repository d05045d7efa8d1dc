"""prometheus_client's multiprocess mode, for a runtime that starts several worker processes.

The counters live in each process (forwarder/metrics.py). For their sum, the process that
starts the workers wraps their lives in :func:`multiprocess_metrics`: a private temporary
directory named in ``PROMETHEUS_MULTIPROC_DIR``, where every process keeps its values in a
file of its own, and which the ``/metrics`` listener reads (forwarder/cli/metrics_listener.py).
It calls :func:`worker_exited` when a worker ends. With one process none of this is needed.

prometheus_client chooses its mode once, when it is first imported; so this module does not
import it at the top, and :func:`multiprocess_metrics` refuses to run after it was imported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # the name prometheus_client reads


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, when one is set (prometheus_client's variable)."""
    return os.environ.get(MULTIPROC_ENV) or None


@contextlib.contextmanager
def multiprocess_metrics(workers: int) -> Iterator[str | None]:
    """With more than one worker: a new private directory (mode 0700) for the workers'
    values, named in the environment they inherit, removed afterwards; yields it, or None
    for one worker. An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is used as it is."""
    given = multiprocess_dir()
    if workers <= 1 or given:
        yield given
        return
    if "prometheus_client" in sys.modules:
        raise RuntimeError("multiprocess_metrics must run before prometheus_client is imported")
    directory = tempfile.mkdtemp(prefix="quietmail-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """A worker process ended: its share of the in-flight gauge no longer counts (its
    counters stay in the sum, as Prometheus counters must)."""
    directory = multiprocess_dir()
    if directory:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
