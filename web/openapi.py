"""The OpenAPI 3.1 document of /api/v1, written as data. A test checks that every documented
route exists in the app and that every API route is documented."""

from __future__ import annotations

import sys
from typing import Any

from web.api import compat
from web.openapi_schemas import SCHEMAS, STR, ref


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Body is not valid JSON (invalid_json)",
        401: "Missing or invalid API key (unauthorized)",
        403: "Refused (wrong_password)",
        404: "No such object, or it belongs to another account (not_found)",
        409: "Name taken (domain_in_use, domain_exists, alias_exists), the domain was "
        "verified by another account first (domain_verified_elsewhere), or the target is "
        "still listed by aliases (target_in_use; the message says how many)",
        413: "Body too large (too_large)",
        422: "Input refused by validation (invalid_input)",
        429: "Too many password attempts for the account or from this client (rate_limited); "
        "the Retry-After header says when to try again",
        503: "Database unavailable (store_unavailable)",
    }
    return {str(c): _json(ref("Error"), text[c]) for c in (401, 503, *codes)}


def _id_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _paths() -> dict[str, Any]:
    domain = [_id_param("domain_id")]
    alias = [_id_param("alias_id")]
    return {
        "/domains": {
            "get": {"summary": "List your domains", "responses": {
                "200": _json({"type": "object", "properties": {
                    "domains": {"type": "array", "items": ref("Domain")}}}, "Your domains"),
                **_errors()}},
            "post": {"summary": "Add a domain", "requestBody": _body({
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {"name": {
                    "type": "string", "maxLength": 253,
                    "description": "A host name with at least one dot; Unicode labels are taken "
                    "as IDNA and stored as A-labels (xn--), and each stored label holds letters, "
                    "digits and hyphens (not at either end). No pattern is given because the "
                    "Unicode form is accepted too."}}}),
                "responses": {"201": _json(ref("Domain"), "Added, with the records to publish"),
                              **_errors(400, 409, 413, 422)}},
        },
        "/domains/{domain_id}": {
            "parameters": domain,
            "get": {"summary": "One domain", "responses": {
                "200": _json(ref("Domain"), "The domain"), **_errors(404)}},
            "delete": {"summary": "Delete a domain with its aliases and error log", "responses": {
                "204": {"description": "Deleted"}, **_errors(404)}},
        },
        "/domains/{domain_id}/dns-records": {
            "parameters": domain,
            "get": {"summary": "Records to publish", "responses": {
                "200": _json({"type": "object", "properties": {
                    "records": {"type": "array", "items": ref("DnsRecord")}}}, "The records"),
                **_errors(404)}},
        },
        "/domains/{domain_id}/verify": {
            "parameters": domain,
            "post": {"summary": "Check the records in live DNS; verify the domain when they "
                     "prove ownership", "responses": {
                "200": _json({"type": "object", "properties": {
                    "verified": {"type": "boolean"}, "ownership_proven": {"type": "boolean"},
                    "checks": {"type": "array", "items": ref("RecordCheck")},
                    "domain": ref("Domain")}}, "Record by record"), **_errors(404, 409)}},
        },
        "/domains/{domain_id}/errors": {
            "parameters": domain,
            "get": {"summary": "Error log of the last 7 days, newest first", "responses": {
                "200": _json({"type": "object", "properties": {
                    "errors": {"type": "array", "items": ref("ErrorLogEntry")}}}, "Entries"),
                **_errors(404)}},
        },
        "/domains/{domain_id}/spam": {
            "parameters": domain,
            "put": {"summary": "Spam filtering for the domain: on or off, reject scores",
                    "requestBody": _body(ref("SpamPolicy")), "responses": {
                "200": _json(ref("Domain"), "The domain"), **_errors(400, 404, 413, 422)}},
        },
        "/domains/{domain_id}/private-replies": {
            "parameters": domain,
            "put": {"summary": "The default of the domain's aliases for private replies",
                    "requestBody": _body({"type": "object", "required": ["private_replies"],
                                          "additionalProperties": False,
                                          "properties": {"private_replies": {
                                              "type": "boolean"}}}),
                    "responses": {"200": _json(ref("Domain"), "The domain"),
                                  **_errors(400, 404, 413, 422)}},
        },
        "/domains/{domain_id}/aliases": {
            "parameters": domain,
            "get": {"summary": "Aliases of a domain", "responses": {
                "200": _json({"type": "object", "properties": {
                    "aliases": {"type": "array", "items": ref("Alias")}}}, "Aliases"),
                **_errors(404)}},
            "post": {"summary": "Add an alias; new targets get a confirmation link",
                     "requestBody": _body(ref("NewAlias")), "responses": {
                "201": _json(ref("SavedAlias"), "Added"), **_errors(400, 404, 409, 413, 422)}},
        },
        "/aliases/{alias_id}": {
            "parameters": alias,
            "get": {"summary": "One alias", "responses": {
                "200": _json(ref("Alias"), "The alias"), **_errors(404)}},
            "patch": {"summary": "Change targets, mode or note",
                      "requestBody": _body(ref("AliasChange")), "responses": {
                "200": _json(ref("SavedAlias"), "Changed"), **_errors(400, 404, 413, 422)}},
            "delete": {"summary": "Delete an alias", "responses": {
                "204": {"description": "Deleted"}, **_errors(404)}},
        },
        "/aliases/{alias_id}/reverse-address": {
            "parameters": alias,
            "post": {"summary": "The address to write to a correspondent through the alias "
                     "(computed, not stored)",
                     "requestBody": _body({"type": "object", "required": ["to"],
                                           "additionalProperties": False,
                                           "properties": {"to": {"type": "string",
                                                                 "maxLength": 254}}}),
                     "responses": {"200": _json({"type": "object", "properties": {
                         "to": STR, "address": STR}}, "The reverse address"),
                         **_errors(400, 404, 413, 422)}},
        },
        "/aliases/{alias_id}/display-name": {
            "parameters": alias,
            "put": {"summary": "The name in the From of mail sent as the alias",
                    "requestBody": _body({"type": "object", "required": ["display_name"],
                                          "additionalProperties": False,
                                          "properties": {"display_name": {
                                              "type": "string", "maxLength": 100}}}),
                    "responses": {"200": _json(ref("Alias"), "The alias"),
                                  **_errors(400, 404, 413, 422)}},
        },
        "/aliases/{alias_id}/private-replies": {
            "parameters": alias,
            "put": {"summary": "Private replies for the alias: every copy's From, Reply-To, "
                    "To and Cc become reverse addresses (null: the domain's default)",
                    "requestBody": _body({"type": "object", "required": ["private_replies"],
                                          "additionalProperties": False,
                                          "properties": {"private_replies": {
                                              "type": ["boolean", "null"]}}}),
                    "responses": {"200": _json(ref("Alias"), "The alias"),
                                  **_errors(400, 404, 413, 422)}},
        },
        "/aliases/{alias_id}/reply-key": {
            "parameters": alias,
            "post": {"summary": "Revoke every reverse address of the alias (new key version)",
                     "responses": {"200": _json(ref("Alias"), "The alias"), **_errors(404)}},
        },
        "/targets": {
            "get": {"summary": "Your target addresses", "responses": {
                "200": _json({"type": "object", "properties": {
                    "targets": {"type": "array", "items": ref("Target")}}}, "Targets"),
                **_errors()}},
        },
        "/targets/{target_id}": {
            "parameters": [_id_param("target_id")],
            "delete": {"summary": "Remove a target address no alias forwards to (unconfirmed "
                       "ones that no alias uses go by themselves)", "responses": {
                "204": {"description": "Removed"}, **_errors(404, 409)}},
        },
        "/account/export": {
            "get": {"summary": "Everything stored about the account", "responses": {
                "200": _json({"type": "object"}, "The export"), **_errors()}},
        },
        "/account/delete": {
            "post": {"summary": "Delete the account and every record tied to it",
                     "requestBody": _body({"type": "object", "required": ["password"],
                                           "additionalProperties": False,
                                           "properties": {"password": {
                                               "type": "string", "minLength": 1,
                                               "maxLength": 1024}}}),
                     "responses": {"200": _json({"type": "object", "properties": {
                         "deleted": {"type": "object",
                                     "additionalProperties": {"type": "integer"}}}},
                         "Counts of deleted records per kind"),
                         **_errors(400, 403, 413, 422, 429)}},
        },
    }  # fmt: skip


def openapi_document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "quietmail API",
            "version": "1",
            "description": "Manage domains and aliases. Authenticate with "
            "`Authorization: Bearer qm_<prefix>_<secret>` (create a key on the account page).",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _paths() | compat.openapi_paths(sys.modules[__name__]),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
    }
