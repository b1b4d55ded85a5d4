"""Signed unsubscribe links: the link (and the RFC 8058 one-click header) in an alert mail
that opts its recipient's address out, without an API key.

A token is ``<payload>.<signature>``: the payload is base64url JSON ``{"a": address,
"l": language, "e": expiry as Unix seconds}``, the signature base64url HMAC-SHA256 of the
payload text. The key is derived from ``BURNRATE_REPORT_LINK_SECRET`` (the secret the
customer report links already use) for this purpose only, so a report link can never
unsubscribe anyone and an unsubscribe link never opens a report.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

from burnrate_common.report_links import InvalidLink

from burnrate_notifier.domain.recipients import supported_language

__all__ = ["InvalidLink", "Unsubscribe", "UnsubscribeLinks"]

_PURPOSE = b"burnrate-unsubscribe-v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid token grants: opting out this address (pages in this language)."""

    address: str
    language: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Signs and checks unsubscribe links (built in bootstrap from the settings)."""

    secret: bytes
    #: where recipients reach the notifier: the links are ``<public_url>/unsubscribe/<token>``
    public_url: str
    days: int

    @property
    def _key(self) -> bytes:
        return hmac.new(self.secret, _PURPOSE, hashlib.sha256).digest()

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def url(self, address: str, language: str, now: dt.datetime) -> str:
        """The link for ``address``; signed with ``now`` (the alert's time), so a redelivered
        alert renders the very same mail."""
        expires_at = now + dt.timedelta(days=self.days)
        payload = _b64(
            json.dumps(
                {"a": address.lower(), "l": language, "e": int(expires_at.timestamp())},
                separators=(",", ":"),
            ).encode()
        )
        token = f"{payload}.{self._signature(payload)}"
        return f"{self.public_url.rstrip('/')}/unsubscribe/{token}"

    def verify(self, token: str, now: dt.datetime) -> Unsubscribe:
        """Raise :class:`InvalidLink` if tampered, malformed or expired."""
        if not token.isascii():  # a token is base64url: anything else is not one of ours
            raise InvalidLink("characters")
        payload, dot, signature = token.partition(".")
        if not dot or not hmac.compare_digest(self._signature(payload), signature):
            raise InvalidLink("signature")
        try:
            data = json.loads(_unb64(payload))
            grant = Unsubscribe(
                str(data["a"]),
                supported_language(str(data["l"])),
                dt.datetime.fromtimestamp(data["e"], dt.UTC),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidLink("payload") from exc
        if now >= grant.expires_at:
            raise InvalidLink("expired")
        return grant
