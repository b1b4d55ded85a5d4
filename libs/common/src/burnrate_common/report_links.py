"""Signed, expiring links that open one customer's reports without an API key.

The reporting service serves them (``/ui/c/<token>``) and issues them on request; the
notifier puts one in every alert mail to a customer contact. Both sign with
``BURNRATE_REPORT_LINK_SECRET`` through :class:`ReportLinkSettings`.

A token is ``<payload>.<signature>``: the payload is base64url JSON ``{"c": customer id,
"e": expiry as Unix seconds}`` (plus ``"l"``, the id of the link's record, for links minted
through reporting's API, which reporting can revoke), the signature base64url HMAC-SHA256 of
the payload text.

There is no fallback secret: without ``BURNRATE_REPORT_LINK_SECRET`` no link can be signed
or checked (:attr:`ReportLinkSettings.link_secret` raises :class:`LinkSecretMissing`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

from pydantic import Field, SecretStr, model_validator

from burnrate_common.settings import ServiceSettings

#: A token longer than this is not one of ours (a link is ~150 characters).
MAX_TOKEN_LENGTH = 1024
#: The latest expiry a payload may carry (the last second of year 9999, UTC).
MAX_EXPIRY = 253_402_300_799

#: The setting that holds the secret (its name, for error messages).
SECRET_SETTING = "BURNRATE_REPORT_LINK_SECRET"  # noqa: S105 (a name, not a secret)


class InvalidLink(Exception):
    """Tampered, malformed or expired: the page says the link expired, and nothing else."""


class LinkSecretMissing(RuntimeError):
    """No ``BURNRATE_REPORT_LINK_SECRET``: links can be neither signed nor checked."""

    def __init__(self) -> None:
        super().__init__(
            f"{SECRET_SETTING} is not set: customer report links and unsubscribe links need "
            "it (the same random value, e.g. `openssl rand -hex 32`, for reporting and notifier)"
        )


@dataclass(frozen=True)
class LinkGrant:
    customer_id: uuid.UUID
    expires_at: dt.datetime
    #: the link's record (links minted through reporting's API); None for the notifier's
    link_id: uuid.UUID | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def sign(
    secret: bytes,
    customer_id: uuid.UUID,
    expires_at: dt.datetime,
    *,
    link_id: uuid.UUID | None = None,
) -> str:
    data: dict[str, str | int] = {"c": str(customer_id), "e": int(expires_at.timestamp())}
    if link_id is not None:
        data["l"] = str(link_id)
    payload = _b64(json.dumps(data).encode())
    return f"{payload}.{_sign(secret, payload)}"


def _uuid(value: object) -> uuid.UUID:
    if not isinstance(value, str):
        raise InvalidLink("payload")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidLink("payload") from exc


def verify(secret: bytes, token: str, now: dt.datetime) -> LinkGrant:
    """The grant of a valid token; :class:`InvalidLink` for anything else (any text, any
    length, any JSON in a correctly signed payload)."""
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidLink("token")
    payload, dot, signature = token.partition(".")
    if not dot or not hmac.compare_digest(_sign(secret, payload).encode(), signature.encode()):
        raise InvalidLink("signature")
    try:
        data = json.loads(_unb64(payload))
    except ValueError as exc:  # base64, UTF-8 and JSON errors alike
        raise InvalidLink("payload") from exc
    if not isinstance(data, dict):
        raise InvalidLink("payload")
    expiry = data.get("e")
    if type(expiry) is not int or not 0 < expiry <= MAX_EXPIRY:
        raise InvalidLink("payload")
    link = data.get("l")
    grant = LinkGrant(
        _uuid(data.get("c")),
        dt.datetime.fromtimestamp(expiry, dt.UTC),
        _uuid(link) if link is not None else None,
    )
    if now >= grant.expires_at:
        raise InvalidLink("expired")
    return grant


class ReportLinkSettings(ServiceSettings):
    """Settings of the services that sign or check customer report links."""

    #: HMAC key of the customers' report links (and the notifier's unsubscribe links); no
    #: link is signed or accepted without it.
    report_link_secret: SecretStr | None = None
    #: Lifetime of a customer report link when the request does not say.
    report_link_days: int = Field(default=30, ge=1, le=366)
    #: Where customers reach the reporting service (the links are built on it).
    reporting_public_url: str = "http://127.0.0.1:8005"

    @model_validator(mode="after")
    def _link_secret_in_production(self) -> ReportLinkSettings:
        if self.environment == "production" and self.report_link_secret is None:
            raise ValueError("BURNRATE_REPORT_LINK_SECRET is required in production")
        return self

    @property
    def has_link_secret(self) -> bool:
        return self.report_link_secret is not None and bool(
            self.report_link_secret.get_secret_value()
        )

    @property
    def link_secret(self) -> bytes:
        """The HMAC key; :class:`LinkSecretMissing` when ``BURNRATE_REPORT_LINK_SECRET`` is
        not set (there is no built-in fallback: anyone could forge links with it)."""
        if not self.has_link_secret:
            raise LinkSecretMissing()
        assert self.report_link_secret is not None
        return self.report_link_secret.get_secret_value().encode()

    def customer_report_url(
        self,
        customer_id: uuid.UUID,
        now: dt.datetime,
        days: int | None = None,
        *,
        link_id: uuid.UUID | None = None,
    ) -> tuple[str, str, dt.datetime]:
        """``(url, token, expires_at)`` of a link to this customer's reports."""
        expires_at = (now + dt.timedelta(days=days or self.report_link_days)).replace(microsecond=0)
        token = sign(self.link_secret, customer_id, expires_at, link_id=link_id)
        return f"{self.reporting_public_url.rstrip('/')}/ui/c/{token}", token, expires_at
