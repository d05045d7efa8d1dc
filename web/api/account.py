"""API: export everything about the account, and delete it (the password must be given)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from web.api.common import json_object
from web.api.keys import authenticate
from web.context import ctx_of
from web.errors import AppError
from web.pages import password_matches
from web.validation import only_keys, password


async def export(request: Request) -> Response:
    user = await authenticate(request)
    data = await ctx_of(request).store.export_account(user.id)
    return JSONResponse(data)


async def delete_account(request: Request) -> Response:
    user = await authenticate(request)
    data = await json_object(request)
    only_keys(data, {"password"})
    if not await password_matches(request, user, password(data.get("password"))):
        raise AppError(403, "wrong_password", "the password is not right; nothing was deleted")
    counts = await ctx_of(request).store.delete_account(user.id)
    return JSONResponse({"deleted": counts})


routes = [
    Route("/account/export", export, methods=["GET"]),
    Route("/account/delete", delete_account, methods=["POST"]),
]
