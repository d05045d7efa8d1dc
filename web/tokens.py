"""Signed, expiring tokens (itsdangerous) for links and logged-out forms.

Each purpose has its own salt, so a token made for one purpose is refused by every other.
Timestamps come from the app's clock, so tests can move time forward.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from forwarder.settings import Secret
from web.exceptions import WebError


class Purpose(enum.Enum):
    """Salt and lifetime in seconds of each kind of token."""

    EMAIL_VERIFY = ("email-verify", 2 * 24 * 3600)
    PASSWORD_RESET = ("password-reset", 3600)
    RECIPIENT_CONFIRM = ("recipient-confirm", 7 * 24 * 3600)
    LOGIN_TOTP = ("login-second-factor", 300)  # between the password step and the code step
    TOTP_SETUP = ("totp-setup", 900)
    FORM = ("logged-out-form", 2 * 3600)  # CSRF token of logged-out forms
    DEVICE = ("device-cookie", 180 * 24 * 3600)  # web/devices.py

    @property
    def salt(self) -> str:
        return self.value[0]

    @property
    def max_age(self) -> int:
        return self.value[1]


class TokenError(WebError):
    """A token that is forged, for another purpose, malformed or expired."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "invalid_token", message, title="Link not valid")


def _clock_signer(clock: Callable[[], datetime]) -> type[TimestampSigner]:
    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockSigner


class Tokens:
    def __init__(self, secret_key: Secret, clock: Callable[[], datetime]) -> None:
        if not secret_key:
            raise ValueError("the web app needs QUIETMAIL_SECRET_KEY")
        self._clock = clock
        self._serializers = {
            purpose: URLSafeTimedSerializer(
                secret_key.reveal(), salt=purpose.salt, signer=_clock_signer(clock)
            )
            for purpose in Purpose
        }

    def make(self, purpose: Purpose, payload: dict[str, Any]) -> str:
        return str(self._serializers[purpose].dumps(payload))

    def read(self, purpose: Purpose, token: object) -> dict[str, Any]:
        if type(token) is not str or not token or len(token) > 4096:
            raise TokenError("the link is malformed")
        serializer = self._serializers[purpose]
        try:
            payload = serializer.loads(token, max_age=purpose.max_age)
        except SignatureExpired:
            raise TokenError("the link has expired") from None
        except BadSignature:
            raise TokenError("the link is not valid") from None
        if not isinstance(payload, dict):
            raise TokenError("the link is not valid")
        return payload
