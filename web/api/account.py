"""API: the account's target addresses (list, remove), export everything about the account,
and delete it (the password must be given)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from web import service
from web.api.common import json_object
from web.api.keys import authenticate
from web.context import ctx_of
from web.credentials import password_matches
from web.exceptions import WebError
from web.validation import only_keys, password


async def list_targets(request: Request) -> Response:
    user = await authenticate(request)
    ctx = ctx_of(request)
    targets = [
        {
            "id": r.id,
            "address": r.address,
            "confirmed": r.verified_at is not None,
            "aliases": await ctx.store.aliases.count_with_target(user.id, r.address),
        }
        for r in await ctx.store.recipients.list_for_owner(user.id)
    ]
    return JSONResponse({"targets": targets})


async def delete_target(request: Request) -> Response:
    user = await authenticate(request)
    await service.remove_target(ctx_of(request), user, request.path_params["target_id"])
    return Response(status_code=204)


async def export(request: Request) -> Response:
    user = await authenticate(request)
    data = await ctx_of(request).store.export_account(user.id)
    return JSONResponse(data)


async def delete_account(request: Request) -> Response:
    user = await authenticate(request)
    data = await json_object(request)
    only_keys(data, {"password"})
    if not await password_matches(request, user, password(data.get("password"))):
        raise WebError(403, "wrong_password", "the password is not right; nothing was deleted")
    counts = await ctx_of(request).store.delete_account(user.id)
    return JSONResponse({"deleted": counts})


routes = [
    Route("/targets", list_targets, methods=["GET"]),
    Route("/targets/{target_id}", delete_target, methods=["DELETE"]),
    Route("/account/export", export, methods=["GET"]),
    Route("/account/delete", delete_account, methods=["POST"]),
]
