"""The account page: password change, API keys, target addresses, second factor, export and
deletion."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.crypto import token_hash
from forwarder.passwords import hash_password
from forwarder.store.base import AlreadyExists
from web import devices, service, totp
from web.api.keys import new_api_key
from web.context import ctx_of
from web.credentials import password_matches
from web.csrf import checked_form
from web.exceptions import WebError
from web.forms import FormPage, Refill
from web.pages import form_str, message, redirect, render
from web.sessions import clear_cookie, require, start
from web.signin import revoke_api_keys
from web.validation import MAX_NAME, InputError, new_password, text


async def account_page(request: Request, refill: Refill | None = None) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    keys = await ctx.store.api_keys.list_for_user(me.user.id)
    recipients = await ctx.store.recipients.list_for_owner(me.user.id)
    refill = refill or Refill(status=200)
    return await render(
        request, "account.html", status=refill.status, keys=keys, recipients=recipients,
        values=refill.values, errors=refill.errors,
    )  # fmt: skip


async def change_password(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    if not await password_matches(request, me.user, form_str(form, "current")):
        return await account_page(request, Refill({}, {"current": "Wrong password."}, 400))
    secret = new_password(form_str(form, "password"))
    await ctx.store.users.set_password(me.user.id, await hash_password(secret))
    await ctx.store.sessions.delete_for_user(me.user.id)  # every session, this one too
    # Checked by default on the page (issue 8, Medium 5): a password is changed most often
    # when it may have leaked, and a key made by whoever used it would outlive the change.
    notice = "password-changed"
    if form_str(form, "revoke_keys") == "on":
        await revoke_api_keys(request, me.user)
        notice = "password-changed-keys-revoked"
    response = redirect(f"/account?notice={notice}")
    user = await ctx.store.users.get(me.user.id)
    if user is not None:
        await start(request, response, user)  # a fresh session for the person who changed it
    return response


async def preferences(request: Request) -> Response:
    """The default target of one-click aliases (random ones, password managers) and what
    "off" means on the alias page (issue 13). The default target is the account's own
    address or one of its confirmed targets, so no confirmation mail is needed for it."""
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    target = form_str(form, "default_target").strip().lower()
    confirmed = {
        r.address for r in await ctx.store.recipients.list_for_owner(me.user.id) if r.verified_at
    }
    if target != me.user.email and target not in confirmed:
        raise InputError("default_target", "choose your own address or a confirmed target")
    off_mode = form_str(form, "off_mode")
    if off_mode not in ("reject", "drop"):
        raise InputError("off_mode", "must be reject or drop")
    stored = "" if target == me.user.email else target
    await ctx.store.users.set_preferences(me.user.id, stored, off_mode)
    return redirect("/account?notice=preferences-saved")


async def create_key(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    name = text(form_str(form, "name"), "name", max_length=MAX_NAME)
    for _ in range(3):  # the prefix is random; a collision is rare and just retried
        key, prefix = new_api_key()
        try:
            await ctx.store.api_keys.create(me.user.id, name, prefix, token_hash(key), ctx.now())
        except AlreadyExists:
            continue
        return await render(request, "api_key.html", key=key, name=name)
    return await message(request, "Try again", "No key could be made.", status=503)


async def revoke_key(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    await checked_form(request)
    if not await ctx.store.api_keys.delete(me.user.id, request.path_params["id"]):
        return await message(request, "Not found", "No such API key.", status=404)
    return redirect("/account?notice=key-revoked")


async def remove_target_form(request: Request) -> Response:
    me = await require(request)
    await checked_form(request)
    try:
        await service.remove_target(ctx_of(request), me.user, request.path_params["id"])
    except WebError as refused:
        return await message(
            request, "Not removed", refused.message, status=refused.status, link="/account"
        )
    return redirect("/account?notice=target-removed")


async def export(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    data = await ctx.store.export_account(me.user.id)
    body = json.dumps(data, indent=2, sort_keys=True, default=str)
    return Response(
        body,
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="quietmail-export.json"'},
    )


async def delete_account(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    if not await password_matches(request, me.user, form_str(form, "password")):
        errors = {"delete_password": "Wrong password: nothing was deleted."}
        return await account_page(request, Refill({}, errors, 400))
    counts = await ctx.store.delete_account(me.user.id)
    request.state.current = None  # the session went with the account
    response = await render(request, "deleted.html", counts=counts, user=None)
    clear_cookie(request, response)
    devices.forget(request, response)
    return response


reshow: dict[object, FormPage] = {
    change_password: account_page,
    create_key: account_page,
    preferences: account_page,
    totp.totp_disable: account_page,  # its form is on the account page
}

routes = [
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/preferences", preferences, methods=["POST"]),
    Route("/account/api-keys", create_key, methods=["POST"]),
    Route("/account/api-keys/{id}/revoke", revoke_key, methods=["POST"]),
    Route("/account/targets/{id}/remove", remove_target_form, methods=["POST"]),
    Route("/account/export", export, methods=["GET"]),
    Route("/account/delete", delete_account, methods=["POST"]),
]
