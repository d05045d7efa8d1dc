"""API: aliases of a domain (list, add) and one alias (get, update, delete; its reverse
addresses: compute one, revoke them all by rotating the reply key, issue 11)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from forwarder.reverse import ReverseAddresses
from forwarder.store.base import Alias, AliasMode, Domain, Recipient, User
from web import service
from web.api.common import alias_json, json_object
from web.api.keys import authenticate
from web.context import AppContext, ctx_of
from web.validation import (
    InputError,
    description,
    display_name,
    email,
    local_part,
    mode,
    only_keys,
    targets,
)


async def _recipients(ctx: AppContext, user: User) -> dict[str, Recipient]:
    """The account's targets by address: one query per request, however many aliases."""
    return {r.address: r for r in await ctx.store.recipients.list_for_owner(user.id)}


async def _json(ctx: AppContext, user: User, alias: Alias, domain: Domain) -> dict[str, Any]:
    return alias_json(alias, domain, await _recipients(ctx, user))


async def _saved_json(
    ctx: AppContext, user: User, saved: service.SavedAlias, domain: Domain
) -> dict[str, Any]:
    """An added or updated alias, saying which new targets got no confirmation message."""
    return await _json(ctx, user, saved.alias, domain) | {
        "unsent_confirmations": list(saved.unsent)
    }


async def list_aliases(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    aliases = await ctx.store.aliases.list_for_domain(domain.id)
    recipients = await _recipients(ctx, user)
    return JSONResponse({"aliases": [alias_json(a, domain, recipients) for a in aliases]})


async def add_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    data = await json_object(request)
    only_keys(data, {"local_part", "targets", "mode", "description"})
    saved = await service.create_alias(
        ctx,
        user,
        domain,
        local_part(data.get("local_part")),
        targets(data.get("targets"), ctx.settings.max_targets),
        mode(data.get("mode", AliasMode.ACTIVE.value)),
        description(data.get("description", "")),
    )
    return JSONResponse(await _saved_json(ctx, user, saved, domain), status_code=201)


async def get_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    alias, domain = await service.owned_alias(ctx, user, request.path_params["alias_id"])
    return JSONResponse(await _json(ctx, user, alias, domain))


async def update_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    alias, domain = await service.owned_alias(ctx, user, request.path_params["alias_id"])
    data = await json_object(request)
    only_keys(data, {"targets", "mode", "description"})
    max_targets = ctx.settings.max_targets
    saved = await service.update_alias(
        ctx,
        user,
        alias,
        targets=targets(data["targets"], max_targets) if "targets" in data else None,
        mode=mode(data["mode"]) if "mode" in data else None,
        description=description(data["description"]) if "description" in data else None,
    )
    return JSONResponse(await _saved_json(ctx, user, saved, domain))


async def delete_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    alias, _ = await service.owned_alias(ctx, user, request.path_params["alias_id"])
    await ctx.store.aliases.delete(alias.id)
    return Response(status_code=204)


async def reverse_address(request: Request) -> Response:
    """The address through which the owner writes to ``to`` as the alias: computed from the
    alias's reply key, never stored."""
    ctx = ctx_of(request)
    user = await authenticate(request)
    alias, domain = await service.owned_alias(ctx, user, request.path_params["alias_id"])
    data = await json_object(request)
    only_keys(data, {"to"})
    to = email(data.get("to"), "to")
    if alias.is_catch_all or not ctx.settings.srs_secret:
        raise InputError("to", "this alias has no reverse addresses (catch-all, or no SRS secret)")
    address = ReverseAddresses.from_settings(ctx.settings).mint(
        alias.id, alias.reply_key_version, alias.local_part, domain.name, to
    )
    if address is None:
        raise InputError("to", "must be a plain ASCII address (no quotes) to get a reverse address")
    return JSONResponse({"to": to, "address": address})


async def set_display_name(request: Request) -> Response:
    """The name in the From of mail sent as the alias (issue 11); "" for none."""
    ctx = ctx_of(request)
    user = await authenticate(request)
    alias, domain = await service.owned_alias(ctx, user, request.path_params["alias_id"])
    data = await json_object(request)
    only_keys(data, {"display_name"})
    updated = await ctx.store.aliases.set_display_name(
        alias.id, display_name(data.get("display_name"))
    )
    return JSONResponse(await _json(ctx, user, updated, domain))


async def set_private_replies(request: Request) -> Response:
    """Private replies for the alias (issue 11): true, false, or null for the domain's
    default."""
    ctx = ctx_of(request)
    user = await authenticate(request)
    alias, domain = await service.owned_alias(ctx, user, request.path_params["alias_id"])
    data = await json_object(request)
    only_keys(data, {"private_replies"})
    if "private_replies" not in data:
        raise InputError("private_replies", "is required")
    choice = data["private_replies"]
    if choice is not None and not isinstance(choice, bool):
        raise InputError("private_replies", "must be true, false or null")
    updated = await ctx.store.aliases.set_private_replies(alias.id, choice)
    return JSONResponse(await _json(ctx, user, updated, domain))


async def rotate_reply_key(request: Request) -> Response:
    """Revoke every reverse address of the alias at once (a new key version)."""
    ctx = ctx_of(request)
    user = await authenticate(request)
    alias, domain = await service.owned_alias(ctx, user, request.path_params["alias_id"])
    rotated = await ctx.store.aliases.rotate_reply_key(alias.id)
    return JSONResponse(await _json(ctx, user, rotated, domain))


routes = [
    Route("/domains/{domain_id}/aliases", list_aliases, methods=["GET"]),
    Route("/domains/{domain_id}/aliases", add_alias, methods=["POST"]),
    Route("/aliases/{alias_id}", get_alias, methods=["GET"]),
    Route("/aliases/{alias_id}", update_alias, methods=["PATCH"]),
    Route("/aliases/{alias_id}", delete_alias, methods=["DELETE"]),
    Route("/aliases/{alias_id}/reverse-address", reverse_address, methods=["POST"]),
    Route("/aliases/{alias_id}/reply-key", rotate_reply_key, methods=["POST"]),
    Route("/aliases/{alias_id}/display-name", set_display_name, methods=["PUT"]),
    Route("/aliases/{alias_id}/private-replies", set_private_replies, methods=["PUT"]),
]
