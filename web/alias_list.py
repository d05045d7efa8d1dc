"""The alias page (issue 13 §3): every alias of the account on one page, across its domains,
with search and filters on the server (so it works without JavaScript), pages of
:data:`PAGE_SIZE`, and a per-row switch.

"Off" is the mode the owner chose on the account page (``User.off_mode``: reject, so the
sender is told, or drop); turning an alias on makes it active.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.store.base import Alias, AliasMode, Domain, NotFound, User
from web import service
from web.context import AppContext, ctx_of
from web.csrf import checked_form
from web.pages import redirect, render
from web.sessions import require

PAGE_SIZE = 25
MAX_QUERY = 254
MODES = ("", "active", "off", "reject", "drop")


@dataclass(frozen=True)
class Row:
    alias: Alias
    domain: Domain

    @property
    def address(self) -> str:
        local = "*" if self.alias.is_catch_all else self.alias.local_part
        return f"{local}@{self.domain.name}"


@dataclass(frozen=True)
class Query:
    """What the list shows: ``q`` in the address or note, a domain id, a mode ("off" is any
    mode but active), ``target`` in a target address; and the page, from 1."""

    q: str = ""
    domain: str = ""
    mode: str = ""
    target: str = ""
    page: int = 1

    def matches(self, row: Row) -> bool:
        alias = row.alias
        if self.domain and row.domain.id != self.domain:
            return False
        if self.mode == "off" and alias.mode is AliasMode.ACTIVE:
            return False
        if self.mode not in ("", "off") and alias.mode.value != self.mode:
            return False
        if self.target and not any(self.target in t.lower() for t in alias.targets):
            return False
        q = self.q
        return not q or q in row.address or q in alias.description.lower()

    def url(self, **changes: object) -> str:
        """The list's address with these filters (and ``changes``), for links and redirects."""
        values = {
            "q": self.q, "domain": self.domain, "mode": self.mode, "target": self.target,
            "page": self.page,
        } | changes  # fmt: skip
        kept = {k: v for k, v in values.items() if v not in ("", 1)}
        return "/aliases" + ("?" + urlencode(kept) if kept else "")


def query_of(params: Mapping[str, str]) -> Query:
    """The filters from a query string or form; anything odd becomes "no filter"."""

    def bounded(name: str) -> str:
        value = params.get(name, "")
        return value.strip().lower()[:MAX_QUERY] if isinstance(value, str) else ""

    mode = bounded("mode")
    page = bounded("page")
    return Query(
        q=bounded("q"),
        domain=bounded("domain"),
        mode=mode if mode in MODES else "",
        target=bounded("target"),
        page=int(page) if page.isdigit() and 0 < len(page) < 7 else 1,
    )


async def rows_for(ctx: AppContext, user: User) -> list[Row]:
    """Every alias of the account, by domain name then address (catch-alls last)."""
    rows: list[Row] = []
    for domain in sorted(await ctx.store.domains.list_for_owner(user.id), key=lambda d: d.name):
        aliases = await ctx.store.aliases.list_for_domain(domain.id)
        rows += [
            Row(a, domain) for a in sorted(aliases, key=lambda a: (a.is_catch_all, a.local_part))
        ]
    return rows


async def alias_list(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    query = query_of(request.query_params)
    rows = await rows_for(ctx, me.user)
    found = [row for row in rows if query.matches(row)]
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(query.page, pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    domains = sorted(await ctx.store.domains.list_for_owner(me.user.id), key=lambda d: d.name)
    recipients = {r.address: r for r in await ctx.store.recipients.list_for_owner(me.user.id)}
    return await render(
        request, "aliases.html", rows=shown, total=len(rows), found=len(found), page=page,
        pages=pages, query=query, domains=domains, recipients=recipients,
        back=query.url(page=page), off_mode=me.user.off_mode,
    )  # fmt: skip


def back_to(form: Mapping[str, object]) -> str:
    """Where a row's form returns: the list with its filters, or a domain page; never another
    site (an open redirect) since only these two local paths are allowed."""
    back = form.get("back", "")
    if not isinstance(back, str) or "//" in back or "\\" in back:
        return "/aliases"
    if back == "/aliases" or back.startswith(("/aliases?", "/domains/")):
        return back
    return "/aliases"


def with_notice(url: str, notice: str) -> str:
    return url + ("&" if "?" in url else "?") + "notice=" + notice


async def set_on(ctx: AppContext, user: User, alias: Alias, on: bool) -> None:
    mode = AliasMode.ACTIVE if on else AliasMode(user.off_mode)
    try:
        await ctx.store.aliases.update(alias.id, mode=mode)
    except NotFound:
        raise service.not_found("alias") from None


async def toggle(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    alias, _ = await service.owned_alias(ctx, me.user, request.path_params["id"])
    await set_on(ctx, me.user, alias, alias.mode is not AliasMode.ACTIVE)
    return redirect(with_notice(back_to(form), "alias-saved"))


routes = [
    Route("/aliases", alias_list, methods=["GET"]),
    Route("/aliases/{id}/toggle", toggle, methods=["POST"]),
]
