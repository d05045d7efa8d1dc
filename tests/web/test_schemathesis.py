"""Property-based run of the API against its own OpenAPI document: no input makes a 5xx.

Schemathesis drives the app in-process (its ASGI transport runs the app on its own event-loop
thread), authenticated with a real API key made through the account page. The number of
examples per operation is bounded so the run stays well under a minute.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.applications import Starlette

from tests.web.helpers import api_key, bearer, register
from web.mailer import OutboxMailer

EXAMPLES = 20


def _fuzz(app: Starlette, headers: dict[str, str]) -> tuple[list[int], list[str]]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    statuses: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            if response.status_code >= 400:
                assert set(response.json()) == {"error", "message"}

        check()
    return statuses, failures


async def test_no_server_error(
    client: httpx.AsyncClient, outbox: OutboxMailer, app: Starlette
) -> None:
    await register(client, outbox, "ann@example.org")
    headers = bearer(await api_key(client))
    domain = await client.post("/api/v1/domains", json={"name": "example.net"}, headers=headers)
    assert domain.status_code == 201
    statuses, failures = await asyncio.to_thread(_fuzz, app, headers)
    assert failures == []
    assert len(statuses) >= 10 * 5  # every operation ran several examples
    assert 401 not in statuses  # the key was used: the calls reached the handlers
    assert {200, 404, 422} <= set(statuses)
