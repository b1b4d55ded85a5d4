"""Signed, expiring links that open one customer's reports without an API key.

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
