"""The counters for operators (issue 13): real forwards and refusals through the real relay,
then ``/metrics`` scraped over HTTP from its own listener and parsed as Prometheus text."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from forwarder import replies
from forwarder.cli.multiproc import MULTIPROC_ENV, multiprocess_metrics
from forwarder.cli.runtime import _start_metrics
from forwarder.metrics import Metrics
from tests.forwarder.conftest import DOMAIN, HOSTNAME, TARGET_DOMAIN, World, make_message

ROOT = Path(__file__).resolve().parents[2]
SENDER = "someone@origin.test"
TARGET = f"friend@{TARGET_DOMAIN}"
LATER = f"busy@{TARGET_DOMAIN}"
# What a label value may look like: a word (stage, reason, outcome, mode, verdict), a reply
# code, an enhanced code, empty, or a histogram bucket bound.
ALLOWED_VALUE = re.compile(r"[A-Za-z_]*|[2-5]\d\d|[245]\.\d{1,3}\.\d{1,3}|\+Inf|\d+(\.\d+)?")


async def _scrape(world: World) -> tuple[str, list[Sample]]:
    """Start the runtime's /metrics listener on a free port and GET it with httpx."""
    assert world.relay is not None
    settings = world.settings.replace(metrics_port=0)
    listening: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        await _start_metrics(settings, world.relay.metrics, stack, listening)
        port = int(listening[0].rpartition(":")[2])
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            other = await client.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert listening[0].startswith("metrics on 127.0.0.1:")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert other.status_code == 404  # /metrics only
    samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    return response.text, samples


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, [s for s in samples if s.name == name])
    return found[0]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


async def test_forwards_and_refusals_are_counted_without_names(world: World) -> None:
    await world.alias("known", [TARGET])
    await world.alias("later", [LATER])
    world.settings = world.settings.replace(max_connections_per_ip=2)
    relay = await world.start()
    for index in range(2):  # two forwards; the second reuses the kept outbound connection
        answers, data = await world.transaction(
            SENDER, [f"known@{DOMAIN}"], make_message(f"hello {index}")
        )
        assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    answers, data = await world.transaction(
        SENDER, [f"nobody@{DOMAIN}", "someone@not-served.test"], make_message()
    )
    assert answers == [replies.REJECT_UNKNOWN_ALIAS, replies.REJECT_RELAY_DENIED]
    world.sink.answer(LATER, "451 4.2.1 try later")  # a target that defers: the sender retries
    _, data = await world.transaction(SENDER, [f"later@{DOMAIN}"], make_message("deferred"))
    assert data == replies.FORWARD_DEFERRED
    held = [await world.client(), await world.client()]  # the per-IP limit, then one more
    with contextlib.suppress(Exception):
        await world.client()  # greeted with 421 4.7.0 and closed
    for client in held:
        client.close()
    await asyncio.sleep(0.1)

    text, samples = await _scrape(world)

    # No label value names a person, a domain or an IP (DESIGN promise 2); nor does the text.
    for sample in samples:
        for value in sample.labels.values():
            assert ALLOWED_VALUE.fullmatch(value), (sample.name, sample.labels)
            assert not _is_ip(value), (sample.name, value)
    names = (SENDER, TARGET, LATER, DOMAIN, TARGET_DOMAIN, "not-served.test", HOSTNAME)
    for name in (*names, "127.0.0.1"):
        assert name not in text
    assert "@" not in text

    assert _value(samples, "quietmail_smtp_connections_accepted_total") == 6
    refused = "quietmail_smtp_connections_refused_total"
    assert _value(samples, refused, reason="connection_limit") == 1
    rcpt = "quietmail_smtp_replies_total"
    assert _value(samples, rcpt, stage="RCPT", code="250", enhanced="2.1.5") == 3
    assert _value(samples, rcpt, stage="RCPT", code="550", enhanced="5.1.1") == 1
    assert _value(samples, rcpt, stage="RCPT", code="550", enhanced="5.7.1") == 1
    assert _value(samples, rcpt, stage="DATA", code="250", enhanced="2.0.0") == 2
    assert _value(samples, rcpt, stage="DATA", code="451", enhanced="4.4.1") == 1
    assert _value(samples, "quietmail_forwards_total", outcome="delivered") == 2
    assert _value(samples, "quietmail_forwards_total", outcome="deferred") == 1
    assert _value(samples, "quietmail_forward_seconds_count") == 3
    assert 0 < _value(samples, "quietmail_forward_seconds_sum") < 20
    assert _value(samples, "quietmail_outbound_connections_total", reuse="new") == 1
    assert _value(samples, "quietmail_outbound_connections_total", reuse="reused") == 1
    assert _value(samples, "quietmail_outbound_tls_total", mode="cleartext") == 2  # sink: no TLS
    # The target's MX and address were asked once (misses); the later forwards to the same
    # domain used its delivery plan (forwarder/deliver/plan.py), which asks nothing.
    dns = "quietmail_dns_cache_lookups_total"
    assert _value(samples, dns, result="miss") >= 2
    assert _value(samples, dns, result="hit") >= 1
    assert _value(samples, "quietmail_inflight_bytes") == 0  # all given back
    assert relay.admission.budget.used == 0


async def test_an_outbound_delivery_over_starttls_counts_its_mode(world: World) -> None:
    """The sink offers STARTTLS with a self-signed pair: TLS, not verified."""
    from forwarder.smtp.tls import ensure_local_tls, server_tls_context

    tls_settings = ensure_local_tls(world.settings.replace(local_mode=True))
    context = server_tls_context(tls_settings)
    assert context is not None
    await world.sink.stop()
    world.sink.tls_context = context
    await world.sink.start()
    world.settings = world.settings.replace(outbound_port=world.sink.port)
    await world.alias("known", [TARGET])
    await world.start()
    _, data = await world.transaction(SENDER, [f"known@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    _, samples = await _scrape(world)
    assert _value(samples, "quietmail_outbound_tls_total", mode="tls") == 1


def test_enhanced_codes_from_a_target_cannot_grow_the_label_set() -> None:
    metrics = Metrics()
    metrics.reply("DATA", 550, "5.1.1")
    metrics.reply("DATA", 550, "5.999.999")  # what a hostile target's answer could carry
    metrics.reply("RCPT", 503, "")
    enhanced = {
        s.labels["enhanced"]
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == "quietmail_smtp_replies_total"
    }
    assert enhanced == {"5.1.1", "other", ""}


_WORKER = """
from forwarder.metrics import Metrics
m = Metrics()
m.forwarded("delivered", 0.2)
m.connections_refused.labels("dnsbl").inc(3)
m.inflight_bytes.set(100)
"""

# The runtime's side, in a process of its own (prometheus_client chooses its mode at import,
# and this test process imported it long ago): a private directory, two workers, the sum.
_RUNTIME = """
import os, stat, subprocess, sys
from forwarder.cli.multiproc import MULTIPROC_ENV, multiprocess_metrics, worker_exited
with multiprocess_metrics(1) as none:
    assert none is None and MULTIPROC_ENV not in os.environ
with multiprocess_metrics(2) as directory:
    assert os.environ[MULTIPROC_ENV] == directory
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    pids = []
    for _ in range(2):
        worker = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
        assert worker.wait(timeout=60) == 0
        pids.append(worker.pid)
    from forwarder.metrics import Metrics, scrape_registry
    from prometheus_client import generate_latest
    print(generate_latest(scrape_registry(Metrics(), directory)).decode())
    print("# ---- worker exited")
    worker_exited(pids[0])
    print(generate_latest(scrape_registry(Metrics(), directory)).decode())
assert not os.path.exists(directory) and MULTIPROC_ENV not in os.environ
"""


def _parse(text: str) -> list[Sample]:
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def test_several_worker_processes_add_up() -> None:
    """Multiprocess mode (forwarder/cli/multiproc.py): each worker writes its values to the
    directory the runtime made; /metrics serves their sum; a worker that ended no longer
    counts in the in-flight gauge, its counters stay."""
    env = {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV}
    driver = subprocess.run(
        [sys.executable, "-c", _RUNTIME, _WORKER],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert driver.returncode == 0, driver.stderr
    first, second = (_parse(part) for part in driver.stdout.split("# ---- worker exited"))
    assert _value(first, "quietmail_forwards_total", outcome="delivered") == 2
    assert _value(first, "quietmail_forward_seconds_count") == 2
    assert _value(first, "quietmail_smtp_connections_refused_total", reason="dnsbl") == 6
    assert _value(first, "quietmail_inflight_bytes") == 200
    assert _value(second, "quietmail_inflight_bytes") == 100
    assert _value(second, "quietmail_forwards_total", outcome="delivered") == 2


def test_multiprocess_mode_cannot_start_after_the_library_chose_its_mode() -> None:
    with pytest.raises(RuntimeError, match="before prometheus_client is imported"):  # noqa: SIM117
        with multiprocess_metrics(2):
            pass


def test_the_example_dashboard_asks_only_for_series_that_exist() -> None:
    """config/grafana-dashboard.json stays true to forwarder/metrics.py."""
    dashboard = json.loads((ROOT / "config" / "grafana-dashboard.json").read_text())
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"quietmail_\w+", target["expr"])
    }
    metrics = Metrics()
    metrics.forwarded("delivered", 0.1)  # a histogram shows its series once observed
    exposed = {s.name for family in metrics.registry.collect() for s in family.samples}
    exposed |= {f"{family.name}_total" for family in metrics.registry.collect()}
    assert asked and asked <= exposed, asked - exposed
