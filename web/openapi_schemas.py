"""The component schemas of the OpenAPI document (web/openapi.py): the objects the API takes
and gives, written as data."""

from __future__ import annotations

from typing import Any

STR = {"type": "string"}
TIME = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": STR, "message": STR},
    },
    "Domain": {
        "type": "object",
        "required": ["id", "name", "verified", "verified_at", "created_at", "spam"],
        "properties": {
            "id": STR, "name": STR, "verified": {"type": "boolean"},
            "verified_at": TIME, "created_at": TIME, "spam": ref("SpamPolicy"),
            "private_replies": {"type": "boolean", "description":
                                "The default of the domain's aliases for private replies"},
            "dns_records": {"type": "array", "items": ref("DnsRecord")},
        },
    },
    "SpamPolicy": {
        "type": "object",
        "required": ["enabled", "reject_score", "catch_all_reject_score"],
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean", "description": "Check mail with rspamd"},
            "reject_score": {"type": ["number", "null"], "description": (
                "Refuse at or above this score (null: rspamd's reject action decides); "
                "within the operator's bounds, 422 otherwise")},
            "catch_all_reject_score": {"type": ["number", "null"], "description": (
                "The same for the catch-all alias (null: as reject_score)")},
        },
    },
    "DnsRecord": {
        "type": "object",
        "required": ["type", "name", "value", "purpose", "required"],
        "properties": {
            "type": {"type": "string", "enum": ["MX", "TXT", "CNAME"]}, "name": STR, "value": STR,
            "purpose": STR, "required": {"type": "boolean"},
        },
    },
    "RecordCheck": {
        "type": "object",
        "required": ["record", "ok", "found", "problem"],
        "properties": {
            "record": ref("DnsRecord"), "ok": {"type": "boolean"},
            "found": {"type": "array", "items": STR}, "problem": STR,
        },
    },
    "Alias": {
        "type": "object",
        "required": ["id", "domain_id", "local_part", "address", "targets", "mode"],
        "properties": {
            "id": STR, "domain_id": STR, "local_part": STR, "address": STR,
            "catch_all": {"type": "boolean"},
            "targets": {"type": "array", "items": STR},
            "unconfirmed_targets": {"type": "array", "items": STR},
            "mode": {"type": "string", "enum": ["active", "reject", "drop"]},
            "description": STR, "created_at": TIME,
            "reply_key_version": {"type": "integer", "minimum": 0},
            "display_name": {"type": "string", "maxLength": 100},
            "private_replies": {"type": ["boolean", "null"], "description":
                                "The alias's choice (null: the domain's default)"},
            "private_replies_in_effect": {"type": "boolean"},
        },
    },
    "SavedAlias": {
        "allOf": [ref("Alias"), {
            "type": "object",
            "required": ["unsent_confirmations"],
            "properties": {"unsent_confirmations": {
                "type": "array", "items": STR,
                "description": "New targets whose confirmation message could not be sent "
                "now: they stay unconfirmed, and saving the alias again sends it again"}},
        }],
    },
    "NewAlias": {
        "type": "object",
        "required": ["local_part", "targets"],
        "additionalProperties": False,
        "properties": {
            "local_part": {"type": "string", "maxLength": 64,
                           "description": "the part before @, or * for the catch-all"},
            "targets": {"type": "array", "minItems": 1, "maxItems": 10,
                        "items": {"type": "string", "format": "email", "maxLength": 254}},
            "mode": {"type": "string", "enum": ["active", "reject", "drop"]},
            "description": {"type": "string", "maxLength": 500},
        },
    },
    "AliasChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "targets": {"type": "array", "minItems": 1, "maxItems": 10,
                        "items": {"type": "string", "format": "email", "maxLength": 254}},
            "mode": {"type": "string", "enum": ["active", "reject", "drop"]},
            "description": {"type": "string", "maxLength": 500},
        },
    },
    "Target": {
        "type": "object",
        "properties": {
            "id": STR, "address": {"type": "string", "format": "email"},
            "confirmed": {"type": "boolean"},
            "aliases": {"type": "integer", "minimum": 0,
                        "description": "how many of your aliases forward to it"},
        },
    },
    "ErrorLogEntry": {
        "type": "object",
        "properties": {
            "at": TIME, "alias": STR, "code": {"type": "integer"}, "enhanced_code": STR,
            "reason": STR, "target_domain": STR, "sender_domain": STR, "expires_at": TIME,
            "count": {"type": "integer", "minimum": 1, "description":
                      "entries counted in this row: same alias, code and target domain, one hour"},
            "last_at": TIME,
        },
    },
}  # fmt: skip
