"""The optional second factor: TOTP (RFC 6238, via pyotp) with single-use recovery codes.

The TOTP secret is sealed with the app's encryption key before it is stored (DESIGN promise 6),
bound to the user id as context. Recovery codes are shown once and stored as hashes only.
"""

from __future__ import annotations

import io
import re
import secrets
from datetime import datetime

import pyotp
import segno
from markupsafe import Markup
from pyotp.utils import strings_equal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.crypto import SealError, token_hash
from forwarder.store.base import User
from web.context import ctx_of
from web.credentials import password_matches
from web.csrf import checked_form
from web.exceptions import WebError
from web.pages import form_str, message, redirect, render
from web.sessions import require
from web.tokens import Purpose, TokenError

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes


def _context(user_id: str) -> str:
    return f"totp:{user_id}"


def qr_svg(uri: str) -> Markup:
    """The provisioning URI as an inline SVG QR code, made here (issue 13): no third-party
    service sees the secret, and inline SVG needs no image source the CSP would refuse."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", xmldecl=False, svgns=True, scale=5, border=2, title="QR code of the key"
    )
    return Markup(out.getvalue().decode())  # noqa: S704 -- segno's own SVG, no user markup


def new_recovery_code() -> str:
    """Four groups of four: about 79 bits, so an unsalted hash is enough."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def recovery_hash(code: str) -> str:
    return token_hash(re.sub(r"[\s-]", "", code.lower()))


def matched_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step (RFC 6238 section 4) whose code ``code`` is: the current step or one of
    its neighbours (section 5.2: clock drift), and later than ``last_step``, the last step
    accepted; else None. The caller records the step with ``users.use_totp_step``, so each
    code is accepted once (section 5.2: no second use of a validated OTP)."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if step > last_step and strings_equal(code, totp.generate_otp(step)):
            return step
    return None


async def check_second_factor(request: Request, user: User, code: str) -> bool:
    """A TOTP code not used before, or an unused recovery code; either is used up."""
    ctx = ctx_of(request)
    code = code.strip()
    if not code or len(code) > 64 or user.totp_secret_sealed is None:
        return False
    if re.fullmatch(r"\d{6}", code.replace(" ", "")):
        try:
            secret = ctx.sealer.open(user.totp_secret_sealed, _context(user.id)).decode()
        except SealError:
            return False
        step = matched_step(secret, code.replace(" ", ""), ctx.now(), user.totp_last_step)
        # Atomic in the store: of two log-ins racing with one code, one gets False.
        return step is not None and await ctx.store.users.use_totp_step(user.id, step)
    return await ctx.store.users.use_recovery_code(user.id, recovery_hash(code))


async def totp_page(request: Request) -> Response:
    ctx = ctx_of(request)
    me = await require(request)
    if me.user.totp_secret_sealed is not None:
        return await render(request, "totp.html", enabled=True, secret="", uri="", token="")
    secret = pyotp.random_base32()
    token = ctx.tokens.make(Purpose.TOTP_SETUP, {"u": me.user.id, "s": secret})
    return await _setup_page(request, me.user, secret, token)


async def _setup_page(
    request: Request, user: User, secret: str, token: str, *, error: str = ""
) -> Response:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="quietmail")
    return await render(
        request, "totp.html", status=400 if error else 200, enabled=False, secret=secret,
        uri=uri, token=token, error=error, qr=qr_svg(uri),
    )  # fmt: skip


async def totp_enable(request: Request) -> Response:
    """Turn TOTP on: needs the current password (rate-limited as a log-in) and a code of the
    new secret, and is refused while TOTP is on, so an old setup page cannot swap the secret
    and the recovery codes of an account behind its owner's back."""
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    if me.user.totp_secret_sealed is not None:
        text = "Two-factor authentication is on already. To use a new key, turn it off first."
        return await message(request, "Already on", text, status=409, link="/account")
    try:
        payload = ctx.tokens.read(Purpose.TOTP_SETUP, form.get("token"))
    except TokenError as exc:
        return await message(request, "Start again", str(exc), status=400, link="/account/totp")
    secret = str(payload.get("s", ""))
    if payload.get("u") != me.user.id or not secret:
        return await message(request, "Start again", "not your setup", status=400)
    token = form_str(form, "token")
    if not await password_matches(request, me.user, form_str(form, "password")):
        return await _setup_page(request, me.user, secret, token, error="Wrong password.")
    code = form_str(form, "code").replace(" ", "")
    step = matched_step(secret, code, ctx.now(), me.user.totp_last_step)
    if step is None or not await ctx.store.users.use_totp_step(me.user.id, step):
        error = (
            "That code is not right, or was used already; check the clock of your device "
            "and try again with the next code."
        )
        return await _setup_page(request, me.user, secret, token, error=error)
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    sealed = ctx.sealer.seal(secret.encode(), _context(me.user.id))
    await ctx.store.users.set_totp(me.user.id, sealed, [recovery_hash(c) for c in codes])
    return await render(request, "recovery_codes.html", codes=codes)


async def totp_disable(request: Request) -> Response:
    """Turn TOTP off: needs the password and a current code or a recovery code (issue 8: with
    the password alone, whoever learnt it could strip the second factor it exists to add)."""
    ctx = ctx_of(request)
    me = await require(request)
    form = await checked_form(request)
    if not await password_matches(request, me.user, form_str(form, "password")):
        raise WebError(400, "wrong_password", "Wrong password.", field="totp_password")
    if not await check_second_factor(request, me.user, form_str(form, "code")):
        text = "That code is not right, or was used already: enter the code your app shows now."
        raise WebError(400, "wrong_code", text, field="totp_code")
    await ctx.store.users.set_totp(me.user.id, None, [])
    return redirect("/account?notice=totp-disabled")


routes = [
    Route("/account/totp", totp_page, methods=["GET"]),
    Route("/account/totp", totp_enable, methods=["POST"]),
    Route("/account/totp/disable", totp_disable, methods=["POST"]),
]
