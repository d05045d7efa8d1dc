"""A new alias with a random local part, in one click or one API call (issue 13 §3), forwarding
to the account's default target (the account page; at first its own confirmed address).

The local part is 10 characters from an alphabet without look-alikes (no 0/o, 1/l/i), split
5-5 by a hyphen so it can be read out: 31^10, about 49.5 bits, so a sender cannot guess
another alias of the domain, and a collision (retried) is as good as impossible.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.store.base import AliasMode, Domain, User
from web import service
from web.context import AppContext, ctx_of
from web.csrf import checked_form
from web.exceptions import WebError
from web.pages import redirect
from web.sessions import require
from web.validation import description

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LENGTH = 10


def random_local_part() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def default_target(user: User) -> str:
    return user.default_target or user.email


async def create_random(
    ctx: AppContext, user: User, domain: Domain, note: str = ""
) -> service.SavedAlias:
    """A new active alias of ``domain`` to the account's default target."""
    for _ in range(3):
        try:
            return await service.create_alias(
                ctx, user, domain, random_local_part(), [default_target(user)],
                AliasMode.ACTIVE, note,
            )  # fmt: skip
        except WebError as exc:
            if exc.code != "alias_exists":
                raise
    raise WebError(503, "try_again", "no free random address was found; try again")


async def new_random_alias(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    domain_id = request.path_params.get("id") or form.get("domain")  # the alias page's select
    domain = await service.owned_domain(
        ctx, me.user, domain_id if isinstance(domain_id, str) else ""
    )
    note = form.get("description", "")
    saved = await create_random(ctx, me.user, domain, description(note))
    notice = "mail-failed" if saved.unsent else "random-alias"
    return redirect(f"/aliases?q={saved.alias.local_part}&notice={notice}")


routes = [
    Route("/domains/{id}/aliases/random", new_random_alias, methods=["POST"]),
    Route("/aliases/random", new_random_alias, methods=["POST"]),
]
