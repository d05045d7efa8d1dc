"""JSON plumbing of the API: reading a body, turning records into JSON, error answers.

Every error is ``{"error": "<stable code>", "message": "..."}``; the codes are listed in the
OpenAPI document (web/openapi.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from forwarder import dnsrecords
from forwarder.store.base import Alias, Domain, ErrorLogEntry, Recipient
from web.body_limit import MAX_BODY, BodyTooLarge
from web.exceptions import WebError
from web.validation import InputError


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; web/body_limit.py refuses it (413) before it is read whole
    when it is over MAX_BODY."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BodyTooLarge(MAX_BODY)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise WebError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InputError("body", "must be a JSON object")
    return data


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def domain_json(domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "name": domain.name,
        "verified": domain.verified,
        "verified_at": _time(domain.verified_at),
        "created_at": _time(domain.created_at),
        "spam": {
            "enabled": domain.spam.enabled,
            "reject_score": domain.spam.reject_score,
            "catch_all_reject_score": domain.spam.catch_all_reject_score,
        },
        "private_replies": domain.private_replies,
    }


def alias_json(alias: Alias, domain: Domain, recipients: dict[str, Recipient]) -> dict[str, Any]:
    return {
        "id": alias.id,
        "domain_id": alias.domain_id,
        "local_part": alias.local_part,
        "address": f"{alias.local_part}@{domain.name}",
        "catch_all": alias.is_catch_all,
        "targets": list(alias.targets),
        "unconfirmed_targets": [
            t for t in alias.targets if t not in recipients or recipients[t].verified_at is None
        ],
        "mode": alias.mode.value,
        "description": alias.description,
        "reply_key_version": alias.reply_key_version,
        "display_name": alias.display_name,
        "private_replies": alias.private_replies,
        "private_replies_in_effect": alias.replies_private(domain),
        "created_at": _time(alias.created_at),
    }


def record_json(record: dnsrecords.DnsRecord) -> dict[str, Any]:
    return {
        "type": record.type,
        "name": record.name,
        "value": record.value,
        "purpose": record.purpose,
        "required": record.required,
    }


def check_json(check: dnsrecords.RecordCheck) -> dict[str, Any]:
    return {
        "record": record_json(check.record),
        "ok": check.ok,
        "found": list(check.found),
        "problem": check.problem,
    }


def error_entry_json(entry: ErrorLogEntry) -> dict[str, Any]:
    return {
        "at": _time(entry.at),
        "alias": entry.alias,
        "code": entry.code,
        "enhanced_code": entry.enhanced_code,
        "reason": entry.reason,
        "target_domain": entry.target_domain,
        "sender_domain": entry.sender_domain,
        "expires_at": _time(entry.expires_at),
        "count": entry.count,
        "last_at": _time(entry.last_at),
    }
