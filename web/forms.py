"""A form refused for one of its values comes back filled in (issue 13: a bad value gave a
"Sorry" page naming ``local_part:`` and what was typed was lost).

Each page module maps the endpoints of its forms to the page the form lives on
(``reshow = {add_alias: domain_form_page, ...}``); ``web/app.py`` hands an
:class:`~web.validation.InputError`, a store ``InvalidValue`` or an :class:`~web.errors.WebError`
raised by such an endpoint to :func:`reshown`, which renders that page again with the message
next to its field and the values typed. Secrets (passwords, codes, tokens) are never sent back.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

NOT_REFILLED = frozenset({"csrf", "password", "current", "code", "token"})
_FIELD_PREFIX = re.compile(r"^([a-z_]+): (.+)$", re.DOTALL)


@dataclass(frozen=True)
class Refill:
    """What the page shows again: the values typed and the message for each field ("" for a
    message that belongs to no one field, shown at the top)."""

    values: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    status: int = 422


FormPage = Callable[[Request, Refill], Awaitable[Response]]


def split_message(text: str, known_field: str = "") -> tuple[str, str]:
    """(field, message) of an error: ``InputError`` and the store's ``InvalidValue`` say
    "field: message"."""
    match = _FIELD_PREFIX.match(text)
    if known_field:
        return known_field, match.group(2) if match and match.group(1) == known_field else text
    return (match.group(1), match.group(2)) if match else ("", text)


async def typed_values(request: Request) -> dict[str, str]:
    """The form as typed (the endpoint has read it already; Starlette keeps it)."""
    form = await request.form()
    return {
        name: value
        for name, value in form.multi_items()
        if isinstance(value, str) and name not in NOT_REFILLED
    }


async def reshown(
    request: Request,
    pages: Mapping[object, FormPage],
    field_name: str,
    text: str,
    status: int,
    errors: Mapping[str, str] | None = None,
) -> Response | None:
    """The form's page again with the message by ``field_name`` (or ``errors`` as given,
    keyed as the page's template names them); None when the endpoint has no form page (the
    caller answers with its message page)."""
    page = pages.get(request.scope.get("endpoint"))
    if page is None or request.method != "POST":
        return None
    values = await typed_values(request)
    if errors is None:
        if field_name not in await request.form():
            field_name = ""  # a field the form does not have: the message goes on top
        errors = {field_name: text}
    return await page(request, Refill(values, errors, status))
