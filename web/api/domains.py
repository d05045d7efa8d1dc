"""API: domains, their DNS records and live check, and their error log."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from forwarder import dnsrecords
from web import service
from web.api.common import check_json, domain_json, error_entry_json, json_object, record_json
from web.api.keys import authenticate
from web.context import ctx_of
from web.validation import InputError, domain_name, only_keys


async def list_domains(request: Request) -> Response:
    user = await authenticate(request)
    domains = await ctx_of(request).store.domains.list_for_owner(user.id)
    return JSONResponse({"domains": [domain_json(d) for d in domains]})


async def add_domain(request: Request) -> Response:
    user = await authenticate(request)
    data = await json_object(request)
    only_keys(data, {"name"})
    domain = await service.add_domain(ctx_of(request), user, domain_name(data.get("name")))
    records = dnsrecords.records_for(ctx_of(request).settings, domain)
    body = domain_json(domain) | {"dns_records": [record_json(r) for r in records]}
    return JSONResponse(body, status_code=201)


async def get_domain(request: Request) -> Response:
    user = await authenticate(request)
    domain = await service.owned_domain(ctx_of(request), user, request.path_params["domain_id"])
    return JSONResponse(domain_json(domain))


async def delete_domain(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    await ctx.store.domains.delete(domain.id)
    return Response(status_code=204)


async def dns_records(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    records = dnsrecords.records_for(ctx.settings, domain)
    return JSONResponse({"records": [record_json(r) for r in records]})


async def verify_domain(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.claimed_domain(ctx, user, request.path_params["domain_id"])
    result = await service.verify_domain(ctx, domain)
    return JSONResponse(
        {
            "verified": result.domain.verified,
            "ownership_proven": result.proven,
            "checks": [check_json(c) for c in result.checks],
            "domain": domain_json(result.domain),
        }
    )


async def set_spam_policy(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    data = await json_object(request)
    only_keys(data, {"enabled", "reject_score", "catch_all_reject_score"})
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InputError("enabled", "must be true or false")
    domain = await service.set_spam_policy(
        ctx, domain, enabled, data.get("reject_score"), data.get("catch_all_reject_score")
    )
    return JSONResponse(domain_json(domain))


async def set_private_replies(request: Request) -> Response:
    """The default of the domain's aliases for private replies (issue 11)."""
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    data = await json_object(request)
    only_keys(data, {"private_replies"})
    on = data.get("private_replies")
    if not isinstance(on, bool):
        raise InputError("private_replies", "must be true or false")
    await ctx.store.domains.set_private_replies(domain.id, on)
    return JSONResponse(domain_json(dataclasses.replace(domain, private_replies=on)))


async def error_log(request: Request) -> Response:
    ctx = ctx_of(request)
    user = await authenticate(request)
    domain = await service.owned_domain(ctx, user, request.path_params["domain_id"])
    entries = await ctx.store.errors.list_for_domain(domain.id, ctx.now())
    return JSONResponse({"errors": [error_entry_json(e) for e in entries]})


routes = [
    Route("/domains", list_domains, methods=["GET"]),
    Route("/domains", add_domain, methods=["POST"]),
    Route("/domains/{domain_id}", get_domain, methods=["GET"]),
    Route("/domains/{domain_id}", delete_domain, methods=["DELETE"]),
    Route("/domains/{domain_id}/dns-records", dns_records, methods=["GET"]),
    Route("/domains/{domain_id}/verify", verify_domain, methods=["POST"]),
    Route("/domains/{domain_id}/errors", error_log, methods=["GET"]),
    Route("/domains/{domain_id}/spam", set_spam_policy, methods=["PUT"]),
    Route("/domains/{domain_id}/private-replies", set_private_replies, methods=["PUT"]),
]
