"""Alias pages (add, edit, delete; reverse addresses: compute one, revoke them all) and the
target's confirmation page.

Confirming a target needs no log-in: the target's owner may be someone else. The link opens a
page with a button, and only the POST confirms, so a mail scanner that follows links cannot.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.reverse import ReverseAddresses
from web import service
from web.context import ctx_of
from web.csrf import checked_form
from web.domains import domain_form_page
from web.forms import FormPage, Refill
from web.pages import form_str, message, redirect, render
from web.sessions import require
from web.tokens import Purpose
from web.validation import (
    InputError,
    description,
    display_name,
    email,
    local_part,
    mode,
    split_targets,
    targets,
)


async def add_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    domain = await service.owned_domain(ctx, me.user, request.path_params["id"])
    local = "*" if form_str(form, "catch_all") else local_part(form_str(form, "local_part"))
    saved = await service.create_alias(
        ctx,
        me.user,
        domain,
        local,
        targets(split_targets(form_str(form, "targets")), ctx.settings.max_targets),
        mode(form_str(form, "mode") or "active"),
        description(form_str(form, "description")),
    )
    return _saved(domain.id, saved)


def _saved(domain_id: str, saved: service.SavedAlias) -> Response:
    notice = "mail-failed" if saved.unsent else "alias-saved"
    return redirect(f"/domains/{domain_id}?notice={notice}")


async def edit_alias_page(request: Request, refill: Refill | None = None) -> Response:
    me = await require(request)
    alias, domain = await service.owned_alias(ctx_of(request), me.user, request.path_params["id"])
    refill = refill or Refill(status=200)
    return await render(
        request, "alias.html", status=refill.status, alias=alias, domain=domain,
        values=refill.values, errors=refill.errors,
    )  # fmt: skip


async def update_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    alias, domain = await service.owned_alias(ctx, me.user, request.path_params["id"])
    saved = await service.update_alias(
        ctx,
        me.user,
        alias,
        targets=targets(split_targets(form_str(form, "targets")), ctx.settings.max_targets),
        mode=mode(form_str(form, "mode")),
        description=description(form_str(form, "description")),
    )
    return _saved(domain.id, saved)


async def reverse_address(request: Request) -> Response:
    """The page again, with the reverse address for the correspondent typed (issue 11):
    computed from the alias's reply key, never stored."""
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    alias, domain = await service.owned_alias(ctx, me.user, request.path_params["id"])
    to = email(form_str(form, "to"), "to")
    address = None
    if not alias.is_catch_all and ctx.settings.srs_secret:
        address = ReverseAddresses.from_settings(ctx.settings).mint(
            alias.id, alias.reply_key_version, alias.local_part, domain.name, to
        )
    if address is None:
        raise InputError("to", "gets no reverse address (a plain ASCII address is needed)")
    return await render(request, "alias.html", alias=alias, domain=domain, reverse=address, to=to)


async def set_display_name(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    alias, _ = await service.owned_alias(ctx, me.user, request.path_params["id"])
    await ctx.store.aliases.set_display_name(alias.id, display_name(form_str(form, "display_name")))
    return redirect(f"/aliases/{alias.id}")


_PRIVATE_CHOICES = {"default": None, "on": True, "off": False}


async def set_private_replies(request: Request) -> Response:
    """Private replies for the alias (issue 11): on, off, or the domain's default."""
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    alias, _ = await service.owned_alias(ctx, me.user, request.path_params["id"])
    choice = form_str(form, "private_replies")
    if choice not in _PRIVATE_CHOICES:
        raise InputError("private_replies", "must be default, on or off")
    await ctx.store.aliases.set_private_replies(alias.id, _PRIVATE_CHOICES[choice])
    return redirect(f"/aliases/{alias.id}")


async def rotate_reply_key(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    await checked_form(request)
    alias, _ = await service.owned_alias(ctx, me.user, request.path_params["id"])
    await ctx.store.aliases.rotate_reply_key(alias.id)
    return redirect(f"/aliases/{alias.id}")


async def delete_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    await checked_form(request)
    alias, domain = await service.owned_alias(ctx, me.user, request.path_params["id"])
    await ctx.store.aliases.delete(alias.id)
    return redirect(f"/domains/{domain.id}?notice=alias-deleted")


async def confirm_recipient_page(request: Request) -> Response:
    return await render(
        request,
        "confirm.html",
        title="Accept forwarded mail",
        text="A quietmail user wants to forward mail to this address. Press the button to "
        "accept; if you do not, nothing is forwarded to you.",
        action="/recipients/confirm",
        token=request.query_params.get("token", ""),
    )


async def confirm_recipient(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await checked_form(request)
    payload = ctx.tokens.read(Purpose.RECIPIENT_CONFIRM, form.get("token"))
    owner, address = str(payload.get("o", "")), str(payload.get("a", ""))
    recipient = await ctx.store.recipients.get(owner, address) if owner and address else None
    if recipient is None or recipient.id != payload.get("r"):
        return await message(request, "Link not valid", "this request was withdrawn", status=400)
    if recipient.verified_at is None:
        await ctx.store.recipients.set_verified(owner, address, ctx.now())
    return await message(request, "Accepted", "Mail will now be forwarded to this address.")


reshow: dict[object, FormPage] = {add_alias: domain_form_page, update_alias: edit_alias_page}

routes = [
    Route("/domains/{id}/aliases", add_alias, methods=["POST"]),
    Route("/aliases/{id}", edit_alias_page, methods=["GET"]),
    Route("/aliases/{id}", update_alias, methods=["POST"]),
    Route("/aliases/{id}/delete", delete_alias, methods=["POST"]),
    Route("/aliases/{id}/reverse-address", reverse_address, methods=["POST"]),
    Route("/aliases/{id}/reply-key", rotate_reply_key, methods=["POST"]),
    Route("/aliases/{id}/display-name", set_display_name, methods=["POST"]),
    Route("/aliases/{id}/private-replies", set_private_replies, methods=["POST"]),
    Route("/recipients/confirm", confirm_recipient_page, methods=["GET"]),
    Route("/recipients/confirm", confirm_recipient, methods=["POST"]),
]
