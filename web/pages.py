"""Rendering helpers for the server-side pages: every template gets the user and a CSRF token."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from web.context import ctx_of
from web.csrf import token_for
from web.sessions import current

# Notices are chosen by code, so a link cannot make the page say arbitrary text.
NOTICES = {
    "domain-added": "Domain added. Publish the records below, then press Check DNS.",
    "domain-deleted": "Domain deleted, with its aliases and error log.",
    "alias-saved": "Alias saved.",
    "spam-saved": "Spam filtering saved. The mail server applies it within a minute.",
    "private-replies-saved": "Private replies saved. The mail server applies it within a minute.",
    "alias-deleted": "Alias deleted.",
    "aliases-saved": "The selected aliases are saved.",
    "aliases-deleted": "The selected aliases are deleted.",
    "random-alias": "New random alias made; it forwards to your default target. Copy it below.",
    "preferences-saved": "Saved.",
    "password-changed": "Password changed. Every other session has been logged out.",
    "password-changed-keys-revoked": "Password changed. Every other session has been logged "
    "out and every API key revoked.",
    "key-revoked": "API key revoked.",
    "target-removed": "Target address removed.",
    "totp-disabled": "Two-factor authentication is off.",
    "logged-out": "You are logged out.",
    "mail-failed": "Alias saved, but a confirmation message could not be sent, so that target "
    "stays unconfirmed. Save the alias again later to send it again.",
}


async def render(
    request: Request, template: str, /, *, status: int = 200, **context: Any
) -> Response:
    found = await current(request)
    context.setdefault("user", found.user if found else None)
    context["csrf"] = await token_for(request)
    notice = request.query_params.get("notice", "")
    context.setdefault("notice", NOTICES.get(notice, ""))
    context.setdefault("error", "")
    context.setdefault("values", {})  # a refused form's values and messages (web/forms.py)
    context.setdefault("errors", {})
    context.setdefault("local_mode", ctx_of(request).settings.local_mode)
    return ctx_of(request).templates.TemplateResponse(
        request, template, context, status_code=status
    )


async def message(
    request: Request, title: str, text: str, *, status: int = 200, link: str = "/"
) -> Response:
    return await render(request, "message.html", status=status, title=title, text=text, link=link)


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def form_str(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""
