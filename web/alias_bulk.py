"""Actions on several aliases at once from the alias page, and the confirmations that say
what a deletion takes with it (issue 13 §3: deleting was one unconfirmed click).

Every id is checked to belong to the account before anything changes: one id of another
account (or none at all) answers 404 as a missing one would, and nothing is changed.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.store.base import Alias, Domain, User
from web import service
from web.alias_list import Row, back_to, set_on, with_notice
from web.context import AppContext, ctx_of
from web.csrf import checked_form
from web.exceptions import WebError
from web.pages import form_str, redirect, render
from web.sessions import require

MAX_SELECTED = 100
ACTIONS = ("on", "off", "delete")
_ALIAS_GOES = (
    "Mail to it is refused from then on. Its targets stay on your account, except "
    "unconfirmed ones that no other alias uses."
)


async def _selected(ctx: AppContext, user: User, form: FormData) -> list[tuple[Alias, Domain]]:
    ids = [i for i in form.getlist("ids") if isinstance(i, str)]
    if not ids:
        raise WebError(422, "invalid_input", "Select at least one alias first.")
    if len(ids) > MAX_SELECTED:
        raise WebError(422, "invalid_input", f"Select at most {MAX_SELECTED} aliases at once.")
    return [await service.owned_alias(ctx, user, i) for i in dict.fromkeys(ids)]


async def bulk(request: Request) -> Response:
    """On, off, or delete (after a confirmation page) the selected aliases."""
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    action = form_str(form, "action")
    if action not in ACTIONS:
        raise WebError(422, "invalid_input", "Choose what to do with the selected aliases.")
    selected = await _selected(ctx, me.user, form)
    back = back_to(form)
    if action == "delete":
        if form_str(form, "confirm") != "1":
            rows = [Row(alias, domain) for alias, domain in selected]
            return await _confirm(request, rows, back)
        for alias, _ in selected:
            await ctx.store.aliases.delete(alias.id)
        return redirect(with_notice(back, "aliases-deleted"))
    for alias, _ in selected:
        await set_on(ctx, me.user, alias, action == "on")
    return redirect(with_notice(back, "aliases-saved"))


async def _confirm(request: Request, rows: list[Row], back: str) -> Response:
    many = len(rows) > 1
    return await render(
        request,
        "confirm_delete.html",
        title=f"Delete {len(rows)} aliases?" if many else f"Delete {rows[0].address}?",
        items=[row.address for row in rows],
        text=(
            "Mail to them is refused from then on. Their targets stay on your account, "
            "except unconfirmed ones that no other alias uses."
        )
        if many
        else _ALIAS_GOES,
        action="/aliases/bulk",
        fields=[("action", "delete"), ("confirm", "1"), ("back", back)]
        + [("ids", row.alias.id) for row in rows],
        back=back,
        button=f"Delete {len(rows)} aliases" if many else "Delete the alias",
    )


async def confirm_alias_delete(request: Request) -> Response:
    me = await require(request)
    alias, domain = await service.owned_alias(ctx_of(request), me.user, request.path_params["id"])
    row = Row(alias, domain)
    return await render(
        request, "confirm_delete.html", title=f"Delete {row.address}?", items=[],
        text=_ALIAS_GOES, action=f"/aliases/{alias.id}/delete", fields=[],
        back=f"/aliases/{alias.id}", button="Delete the alias",
    )  # fmt: skip


async def confirm_domain_delete(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    domain = await service.owned_domain(ctx, me.user, request.path_params["id"])
    aliases = await ctx.store.aliases.list_for_domain(domain.id)
    errors = await ctx.store.errors.list_for_domain(domain.id, ctx.now())
    n, e = len(aliases), len(errors)
    text = (
        f"With it go its {n} alias{'' if n == 1 else 'es'} (mail to them is refused from then "
        f"on) and its error log ({e} entr{'y' if e == 1 else 'ies'}). Another account can then "
        "claim the name."
    )
    items = [Row(a, domain).address for a in aliases[:20]] + (["…"] if n > 20 else [])
    return await render(
        request, "confirm_delete.html", title=f"Delete {domain.name}?", items=items, text=text,
        action=f"/domains/{domain.id}/delete", fields=[], back=f"/domains/{domain.id}",
        button="Delete the domain and its aliases",
    )  # fmt: skip


routes = [
    Route("/aliases/bulk", bulk, methods=["POST"]),
    Route("/aliases/{id}/delete", confirm_alias_delete, methods=["GET"]),
    Route("/domains/{id}/delete", confirm_domain_delete, methods=["GET"]),
]
