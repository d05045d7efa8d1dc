"""Getting into an account (the account itself is web/account.py): sign-up, e-mail
verification, log-in (with the optional second factor), log-out, password reset.

Answers never tell whether an address has an account: sign-up and reset say the same thing
either way, a failed log-in costs one argon2 verification whether the user exists or not, and
no answer waits for the mail it causes (it is sent after, web/mailer.py ``MailQueue``), so
its timing does not tell either (issue 8, Medium 6).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forwarder.passwords import hash_password, verify_password
from forwarder.store.base import AlreadyExists, User
from web import devices, totp
from web.context import ctx_of
from web.credentials import count_attempt, password_fingerprint
from web.csrf import checked_form
from web.pages import form_str, message, redirect, render
from web.sessions import current, end, start
from web.tokens import Purpose, TokenError
from web.validation import InputError, email, new_password, password

_TIMING_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$kReFMQ4yTaNlYM5kQIVl0g$"
    "sTZKrWKCYC7tacjhWWFbx3O+fmOBbIuOUi0Igp71+Y8"
)
_CHECK_MAIL = "If the address can be used, a message with a link is on its way. Check your mail."
_LOCAL_MAIL = (
    "If the address can be used, the message with the link is printed in the terminal where "
    "quietmail serve runs: this server is in local mode and sends no mail. Look there."
)
_MAIL_FAILING = (
    "This server could not send mail just now, so the message with the link may not arrive. "
    "Try again later, or tell the server's operator."
)

_RESENT = {
    _LOCAL_MAIL: "Confirm your address first: the link is printed again in the terminal where "
    "quietmail serve runs (this server is in local mode and sends no mail).",
    _MAIL_FAILING: "Confirm your address first. The link was to be sent again, but this server "
    "could not send mail just now; try again later.",
    _CHECK_MAIL: "Confirm your address first: we have sent the link again.",
}


def mail_notice(request: Request) -> tuple[str, str]:
    """(title, text) of the page that promised a mail (issue 13): where to look in local mode,
    and that sending fails when the server's last message failed (a state of the server, the
    same whatever the address, so it tells nothing about accounts)."""
    ctx = ctx_of(request)
    if ctx.settings.local_mode:
        return "Look in the terminal", _LOCAL_MAIL
    if ctx.outgoing.failing:
        return "Mail could not be sent", _MAIL_FAILING
    return "Check your mail", _CHECK_MAIL


async def signup_page(request: Request) -> Response:
    return await render(request, "signup.html")


async def signup(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await checked_form(request)
    raw_email = form_str(form, "email")
    await count_attempt(request, "signup", raw_email)
    try:
        address = email(raw_email)
        secret = new_password(form_str(form, "password"))
    except InputError as exc:
        return await _again(request, "signup.html", exc, email=raw_email)
    try:
        user = await ctx.store.users.create(address, await hash_password(secret), ctx.now())
    except AlreadyExists:
        _mail(request, address, "Someone tried to sign up with this address", _EXISTS)
        return await message(request, *mail_notice(request))
    send_verification(request, user)
    return await message(request, *mail_notice(request))


_EXISTS = (
    "Someone (perhaps you) tried to create a quietmail account with this address, which "
    "already has one. If it was you, log in or reset your password. Otherwise ignore this.\n"
)


def _mail(request: Request, to: str, subject: str, body: str) -> None:
    """Send after the answer, and say nothing of a failure (it is logged by code): the page
    must not tell whether an account exists, and the person can ask again."""
    ctx_of(request).outgoing.send_later(to, subject, body)


def send_verification(request: Request, user: User) -> None:
    ctx = ctx_of(request)
    token = ctx.tokens.make(Purpose.EMAIL_VERIFY, {"u": user.id, "e": user.email})
    link = f"{ctx.settings.base_url}/verify-email?token={token}"
    body = f"Confirm your quietmail account by opening this link:\n\n{link}\n"
    _mail(request, user.email, "Confirm your quietmail account", body)


async def _again(request: Request, template: str, exc: InputError, **values: object) -> Response:
    """The form again with the message next to its field and what was typed (web/forms.py)."""
    token = values.pop("token", "")
    return await render(
        request, template, status=400, values=values, errors={exc.field: exc.message}, token=token
    )


async def verify_email_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    return await render(
        request,
        "confirm.html",
        title="Confirm your e-mail address",
        text="Press the button to confirm this address for your quietmail account.",
        action="/verify-email",
        token=token,
    )


async def verify_email(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await checked_form(request)
    payload = ctx.tokens.read(Purpose.EMAIL_VERIFY, form.get("token"))
    user = await ctx.store.users.get(str(payload.get("u", "")))
    if user is None or user.email != payload.get("e"):
        return await message(request, "Link not valid", "the account is gone", status=400)
    if user.verified_at is None:
        await ctx.store.users.set_verified(user.id, ctx.now())
    return await message(request, "Address confirmed", "You can log in now.", link="/login")


async def login_page(request: Request) -> Response:
    return await render(request, "login.html", email="")


async def login(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await checked_form(request)
    raw_email = form_str(form, "email")
    await count_attempt(request, "login", raw_email)
    try:
        address, secret = email(raw_email), password(form_str(form, "password"))
    except InputError:
        return await _login_failed(request, raw_email)
    user = await ctx.store.users.get_by_email(address)
    ok = await verify_password(user.password_hash if user else _TIMING_HASH, secret)
    if user is None or not ok:
        return await _login_failed(request, raw_email)
    if user.verified_at is None:
        send_verification(request, user)
        text = _RESENT[mail_notice(request)[1]]
        return await message(request, "Confirm your e-mail address", text, status=403)
    if user.totp_secret_sealed is not None:
        token = ctx.tokens.make(
            Purpose.LOGIN_TOTP, {"u": user.id, "p": password_fingerprint(request, user)}
        )
        return await render(request, "login_totp.html", token=token)
    return await _logged_in(request, user)


async def _login_failed(request: Request, raw_email: str) -> Response:
    error = "Wrong e-mail address or password."
    return await render(request, "login.html", status=400, email=raw_email, error=error)


async def _logged_in(request: Request, user: User) -> Response:
    response = redirect("/domains")
    await start(request, response, user)
    devices.remember(request, response, user.email)
    return response


async def login_second_factor(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await checked_form(request)
    try:
        payload = ctx.tokens.read(Purpose.LOGIN_TOTP, form.get("token"))
    except TokenError as exc:
        return await message(request, "Log in again", str(exc), status=400, link="/login")
    user = await ctx.store.users.get(str(payload.get("u", "")))
    if user is None or payload.get("p") != password_fingerprint(request, user):
        return await message(request, "Log in again", "the log-in expired", status=400)
    await count_attempt(request, "login", user.email)  # the same key as the password step
    if not await totp.check_second_factor(request, user, form_str(form, "code")):
        token = str(form.get("token"))
        error = "That code is not right."
        return await render(request, "login_totp.html", status=400, token=token, error=error)
    return await _logged_in(request, user)


async def logout(request: Request) -> Response:
    await checked_form(request)
    response = redirect("/login?notice=logged-out")
    await end(request, response)
    return response


async def reset_request_page(request: Request) -> Response:
    return await render(request, "reset_request.html")


async def reset_request(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await checked_form(request)
    raw_email = form_str(form, "email")
    await count_attempt(request, "reset", raw_email)
    try:
        address = email(raw_email)
    except InputError as exc:
        return await _again(request, "reset_request.html", exc, email=raw_email)
    user = await ctx.store.users.get_by_email(address)
    if user is not None:
        payload = {"u": user.id, "p": password_fingerprint(request, user)}
        link = f"{ctx.settings.base_url}/reset/confirm?token="
        link += ctx.tokens.make(Purpose.PASSWORD_RESET, payload)
        body = f"To choose a new quietmail password, open this link within an hour:\n\n{link}\n"
        _mail(request, user.email, "Reset your quietmail password", body)
    return await message(request, *mail_notice(request))


async def _reset_user(request: Request, token: object) -> User:
    ctx = ctx_of(request)
    payload = ctx.tokens.read(Purpose.PASSWORD_RESET, token)
    user = await ctx.store.users.get(str(payload.get("u", "")))
    if user is None or payload.get("p") != password_fingerprint(request, user):
        raise TokenError("the link has been used already")
    return user


async def reset_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    await _reset_user(request, token)
    return await render(request, "reset.html", token=token)


async def reset(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await checked_form(request)
    token = form.get("token")
    user = await _reset_user(request, token)
    try:
        secret = new_password(form_str(form, "password"))
    except InputError as exc:
        return await _again(request, "reset.html", exc, token=token)
    await ctx.store.users.set_password(user.id, await hash_password(secret))
    await ctx.store.sessions.delete_for_user(user.id)
    # A reset is what someone does who lost control of the account: keys made by whoever
    # had it go too (issue 8, Medium 5). After the sessions, so none can make another.
    revoked = await revoke_api_keys(request, user)
    if user.verified_at is None:  # the link reached the mailbox: the address is proven
        await ctx.store.users.set_verified(user.id, ctx.now())
    text = "Log in with the new password."
    if revoked:
        text += f" Every API key of the account ({revoked}) has been revoked; make new ones "
        text += "on the account page."
    response = await message(request, "Password changed", text, link="/login")
    if await current(request) is not None:
        await end(request, response)
    devices.remember(request, response, user.email)  # the mailbox is proven: a known device
    return response


async def revoke_api_keys(request: Request, user: User) -> int:
    """Delete every API key of ``user``; returns how many there were."""
    store = ctx_of(request).store
    revoked = 0
    for key in await store.api_keys.list_for_user(user.id):
        revoked += await store.api_keys.delete(user.id, key.id)
    return revoked


routes = [
    Route("/signup", signup_page, methods=["GET"]),
    Route("/signup", signup, methods=["POST"]),
    Route("/verify-email", verify_email_page, methods=["GET"]),
    Route("/verify-email", verify_email, methods=["POST"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/login/totp", login_second_factor, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/reset", reset_request_page, methods=["GET"]),
    Route("/reset", reset_request, methods=["POST"]),
    Route("/reset/confirm", reset_page, methods=["GET"]),
    Route("/reset/confirm", reset, methods=["POST"]),
]
