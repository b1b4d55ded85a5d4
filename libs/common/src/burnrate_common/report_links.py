"""Signed, expiring links that open one customer's reports without an API key.

The reporting service serves them (``/ui/c/<token>``) and issues them on request; the
notifier puts one in every alert mail to a customer contact. Both sign with
``BURNRATE_REPORT_LINK_SECRET`` through :class:`ReportLinkSettings`.

A token is ``<payload>.<signature>``: the payload is base64url JSON ``{"c": customer id,
"e": expiry as Unix seconds}``, the signature base64url HMAC-SHA256 of the payload text.
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

#: Signs the links in development only; production must set its own.
DEVELOPMENT_LINK_SECRET = "development-only-report-link-secret"  # noqa: S105 (public on purpose)


class InvalidLink(Exception):
    """Tampered, malformed or expired: the page says the link expired, and nothing else."""


@dataclass(frozen=True)
class LinkGrant:
    customer_id: uuid.UUID
    expires_at: dt.datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def sign(secret: bytes, customer_id: uuid.UUID, expires_at: dt.datetime) -> str:
    payload = _b64(json.dumps({"c": str(customer_id), "e": int(expires_at.timestamp())}).encode())
    return f"{payload}.{_sign(secret, payload)}"


def verify(secret: bytes, token: str, now: dt.datetime) -> LinkGrant:
    payload, dot, signature = token.partition(".")
    if not dot or not hmac.compare_digest(_sign(secret, payload), signature):
        raise InvalidLink("signature")
    try:
        data = json.loads(_unb64(payload))
        grant = LinkGrant(uuid.UUID(data["c"]), dt.datetime.fromtimestamp(data["e"], dt.UTC))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidLink("payload") from exc
    if now >= grant.expires_at:
        raise InvalidLink("expired")
    return grant


class ReportLinkSettings(ServiceSettings):
    """Settings of the services that sign or check customer report links."""

    #: HMAC key of the customers' report links; required in production.
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
    def link_secret(self) -> bytes:
        secret = self.report_link_secret
        return (secret.get_secret_value() if secret else DEVELOPMENT_LINK_SECRET).encode()

    def customer_report_url(
        self, customer_id: uuid.UUID, now: dt.datetime, days: int | None = None
    ) -> tuple[str, str, dt.datetime]:
        """``(url, token, expires_at)`` of a link to this customer's reports."""
        expires_at = (now + dt.timedelta(days=days or self.report_link_days)).replace(microsecond=0)
        token = sign(self.link_secret, customer_id, expires_at)
        return f"{self.reporting_public_url.rstrip('/')}/ui/c/{token}", token, expires_at
