"""New aliases over the API in one call: quietmail's own random-alias endpoint, and the subset
of addy.io's and SimpleLogin's APIs that password managers call (issue 13), so Bitwarden and
others can use quietmail as a self-hosted server of either kind, on quietmail's own API keys.

As the clients send them (read from Bitwarden's public clients source):

- addy.io: ``POST {server}/api/v1/aliases`` with ``Authorization: Bearer <key>`` and JSON
  ``{"domain": <name>, "description": <text>}``; the client reads ``data.email`` of a 200 or
  201 answer. quietmail's own API lives under /api/v1 too: this is the one route at
  ``/api/v1/aliases`` itself (quietmail's own are ``/api/v1/aliases/{alias_id}`` and
  ``/api/v1/domains/{domain_id}/aliases``), so nothing clashes; it is in the OpenAPI document.
- SimpleLogin: ``POST {server}/api/alias/random/new?hostname=<site>`` with the key bare in an
  ``Authentication`` header and JSON ``{"note": <text>}`` (or no body); the client reads
  ``alias`` of a 201 answer. SimpleLogin has no domain parameter: the alias is made on the
  account's first verified domain by name. A server URL typed with a trailing slash makes
  ``//api/alias/random/new``, accepted too.

Every alias made here is active and forwards to the account's default target.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from forwarder.store.base import Alias, Domain, User
from web import service
from web.api.common import alias_json, json_object
from web.api.keys import authenticate, user_for_key
from web.context import AppContext, ctx_of
from web.exceptions import WebError
from web.random_alias import create_random
from web.validation import MAX_DESCRIPTION, description, domain_name, only_keys


def _address(alias: Alias, domain: Domain) -> str:
    return f"{alias.local_part}@{domain.name}"


async def _optional_object(request: Request) -> dict[str, Any]:
    """A JSON object, or {} for an empty body (SimpleLogin's clients may send none)."""
    if not (await request.body()).strip():
        return {}
    return await json_object(request)


async def random_alias(request: Request) -> Response:
    """quietmail's own: ``POST /api/v1/domains/{domain_id}/aliases/random``."""
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    data = await _optional_object(request)
    only_keys(data, {"description"})
    saved = await create_random(ctx, user, domain, description(data.get("description", "")))
    recipients = {r.address: r for r in await ctx.store.recipients.list_for_owner(user.id)}
    body = alias_json(saved.alias, domain, recipients) | {
        "unsent_confirmations": list(saved.unsent)
    }
    return JSONResponse(body, status_code=201)


async def _domain_named(ctx: AppContext, user: User, name: str) -> Domain:
    for domain in await ctx.store.domains.list_by_name(name):
        if domain.owner_id == user.id:
            return domain
    raise service.not_found("domain")


async def addy_create(request: Request) -> Response:
    """addy.io's ``POST /api/v1/aliases`` (random local part; ``format`` is not used)."""
    ctx = ctx_of(request)
    user = await authenticate(request)
    data = await json_object(request)
    only_keys(data, {"domain", "description", "format"})
    domain = await _domain_named(ctx, user, domain_name(data.get("domain"), "domain"))
    note = data.get("description") or ""
    saved = await create_random(ctx, user, domain, description(_cut(note)))
    alias = saved.alias
    return JSONResponse(
        {"data": {
            "id": alias.id, "email": _address(alias, domain), "local_part": alias.local_part,
            "domain": domain.name, "description": alias.description, "active": True,
            "created_at": alias.created_at.isoformat(),
        }},
        status_code=201,
    )  # fmt: skip


def _cut(value: object) -> object:
    """Notes written by clients (they include the website) are cut, not refused."""
    return value[:MAX_DESCRIPTION] if isinstance(value, str) else value


async def simplelogin_random(request: Request) -> Response:
    """SimpleLogin's ``POST /api/alias/random/new``."""
    ctx = ctx_of(request)
    key = request.headers.get("authentication", "")
    user = await (user_for_key(request, key) if key else authenticate(request))
    data = await _optional_object(request)
    only_keys(data, {"note"})
    hostname = request.query_params.get("hostname", "")
    note = data.get("note") or (f"for {hostname}" if hostname else "")
    domains = sorted(
        (d for d in await ctx.store.domains.list_for_owner(user.id) if d.verified),
        key=lambda d: d.name,
    )
    if not domains:
        raise WebError(422, "no_verified_domain", "verify a domain first on the domain page")
    saved = await create_random(ctx, user, domains[0], description(_cut(note)))
    alias, address = saved.alias, _address(saved.alias, domains[0])
    return JSONResponse(
        {
            "alias": address, "email": address, "id": alias.id, "enabled": True,
            "note": alias.description or None,
            "creation_timestamp": int(alias.created_at.timestamp()),
        },
        status_code=201,
    )  # fmt: skip


# Under the /api/v1 mount, beside quietmail's own routes.
api_routes = [
    Route("/domains/{domain_id}/aliases/random", random_alias, methods=["POST"]),
    Route("/aliases", addy_create, methods=["POST"]),
]
# At the top level: SimpleLogin's path has no version.
routes = [
    Route("/api/alias/random/new", simplelogin_random, methods=["POST"]),
    Route("//api/alias/random/new", simplelogin_random, methods=["POST"]),
]


def openapi_paths(doc: Any) -> dict[str, Any]:
    """These routes' entries in quietmail's OpenAPI document, written with its helpers
    (``doc`` is web/openapi.py's module: _json, _errors, ref, _body, _id_param)."""
    note = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"description": {"type": "string", "maxLength": MAX_DESCRIPTION}},
    }
    addy = {
        "type": "object",
        "required": ["domain"],
        "additionalProperties": False,
        "properties": {
            "domain": {"type": "string", "maxLength": 253},
            "description": {"type": "string"},
            "format": {"type": "string"},
        },
    }
    made = {
        "type": "object",
        "properties": {"data": {"type": "object", "properties": {"email": {"type": "string"}}}},
    }
    return {
        "/domains/{domain_id}/aliases/random": {
            "parameters": [doc._id_param("domain_id")],
            "post": {"summary": "Add an alias with a random local part, forwarding to the "
                     "account's default target", "requestBody": {
                         **doc._body(note), "required": False},
                     "responses": {"201": doc._json(doc.ref("SavedAlias"), "Added"),
                                   **doc._errors(400, 404, 413, 422)}},
        },
        "/aliases": {
            "post": {"summary": "addy.io-compatible, for password managers: a random alias "
                     "on the named domain of the account", "requestBody": doc._body(addy),
                     "responses": {"201": doc._json(made, "Added: data.email is the alias"),
                                   **doc._errors(400, 404, 413, 422)}},
        },
    }  # fmt: skip
