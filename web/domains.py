"""Domain pages: list and add, the records to publish with a live DNS check, delete, error log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder import dnsrecords
from forwarder.store.base import Domain, User
from web import service
from web.context import ctx_of
from web.csrf import checked_form
from web.forms import FormPage, Refill
from web.pages import form_str, redirect, render
from web.sessions import require
from web.validation import domain_name, number_text


async def list_domains(request: Request, refill: Refill | None = None) -> Response:
    me = await require(request)
    domains = await ctx_of(request).store.domains.list_for_owner(me.user.id)
    refill = refill or Refill(status=200)
    return await render(
        request, "domains.html", status=refill.status, domains=domains,
        values=refill.values, errors=refill.errors,
    )  # fmt: skip


async def add_domain(request: Request) -> Response:
    me = await require(request)
    form = await checked_form(request)
    name = domain_name(form_str(form, "name"))
    domain = await service.add_domain(ctx_of(request), me.user, name)
    return redirect(f"/domains/{domain.id}?notice=domain-added")


async def _domain_page(
    request: Request,
    user: User,
    domain: Domain,
    checks: list[dnsrecords.RecordCheck] | None,
    refill: Refill | None = None,
) -> Response:
    ctx = ctx_of(request)
    refill = refill or Refill(status=200)
    aliases = await ctx.store.aliases.list_for_domain(domain.id)
    recipients = {r.address: r for r in await ctx.store.recipients.list_for_owner(user.id)}
    return await render(
        request,
        "domain.html",
        status=refill.status,
        values=refill.values,
        errors=refill.errors,
        domain=domain,
        records=dnsrecords.records_for(ctx.settings, domain),
        checks=checks,
        aliases=sorted(aliases, key=lambda a: (a.is_catch_all, a.local_part)),
        recipients=recipients,
        default_target=user.email,
        max_targets=ctx.settings.max_targets,
        spam_bounds=(ctx.settings.spam_min_reject_score, ctx.settings.spam_max_reject_score),
        rspamd=bool(ctx.settings.rspamd_url),
    )


async def show_domain(request: Request) -> Response:
    """The domain's page; with ``?checked=1`` (where "Check DNS" leads after its POST) the
    records are looked up live and shown with what was found."""
    ctx = ctx_of(request)
    me = await require(request)
    domain = await service.owned_domain(ctx, me.user, request.path_params["id"])
    checks = None
    if request.query_params.get("checked") == "1":
        checks = await dnsrecords.check_records(ctx.settings, domain, ctx.resolver_factory())
    return await _domain_page(request, me.user, domain, checks)


async def domain_form_page(request: Request, refill: Refill) -> Response:
    """The domain page again, with a refused form of it filled in (web/forms.py)."""
    me = await require(request)
    domain = await service.owned_domain(ctx_of(request), me.user, request.path_params["id"])
    return await _domain_page(request, me.user, domain, None, refill)


async def verify_domain(request: Request) -> Response:
    me = await require(request)
    await checked_form(request)
    domain = await service.claimed_domain(ctx_of(request), me.user, request.path_params["id"])
    await service.verify_domain(ctx_of(request), domain)
    # Post/Redirect/Get (issue 13): a reload does not post again; the page shows the records
    # as they are then.
    return redirect(f"/domains/{domain.id}?checked=1")


async def spam_policy(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    domain = await service.owned_domain(ctx, me.user, request.path_params["id"])
    await service.set_spam_policy(
        ctx,
        domain,
        form_str(form, "enabled") == "1",
        number_text(form_str(form, "reject_score"), "reject_score"),
        number_text(form_str(form, "catch_all_reject_score"), "catch_all_reject_score"),
    )
    return redirect(f"/domains/{domain.id}?notice=spam-saved")


async def private_replies(request: Request) -> Response:
    """The default of the domain's aliases for private replies (issue 11)."""
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    domain = await service.owned_domain(ctx, me.user, request.path_params["id"])
    await ctx.store.domains.set_private_replies(domain.id, form_str(form, "on") == "1")
    return redirect(f"/domains/{domain.id}?notice=private-replies-saved")


async def delete_domain(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    await checked_form(request)
    domain = await service.owned_domain(ctx, me.user, request.path_params["id"])
    await ctx.store.domains.delete(domain.id)
    return redirect("/domains?notice=domain-deleted")


async def error_log(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    domain = await service.owned_domain(ctx, me.user, request.path_params["id"])
    entries = await ctx.store.errors.list_for_domain(domain.id, ctx.now())
    return await render(request, "errors.html", domain=domain, entries=entries)


reshow: dict[object, FormPage] = {
    add_domain: list_domains,
    verify_domain: domain_form_page,
    spam_policy: domain_form_page,
}

routes = [
    Route("/domains", list_domains, methods=["GET"]),
    Route("/domains", add_domain, methods=["POST"]),
    Route("/domains/{id}", show_domain, methods=["GET"]),
    Route("/domains/{id}/verify", verify_domain, methods=["POST"]),
    Route("/domains/{id}/spam", spam_policy, methods=["POST"]),
    Route("/domains/{id}/private-replies", private_replies, methods=["POST"]),
    Route("/domains/{id}/delete", delete_domain, methods=["POST"]),
    Route("/domains/{id}/errors", error_log, methods=["GET"]),
]
