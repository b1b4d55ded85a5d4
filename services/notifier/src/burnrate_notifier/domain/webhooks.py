"""Outbound webhooks: the JSON body of an alert, its signature, and which URLs are allowed
(the rules of :mod:`burnrate_common.webhook_urls`, shared with the rules service)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from burnrate_common.webhook_urls import (
    InvalidWebhookUrl,
    address_problem,
    addresses_problem,
    parse_webhook_url,
)

__all__ = [
    "SIGNATURE_HEADER",
    "address_problem",
    "addresses_problem",
    "encode_body",
    "sign",
    "url_problem",
    "verify",
]

SIGNATURE_HEADER = "X-Burnrate-Signature"


def sign(secret: bytes, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the shared secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str) -> bool:
    """What a receiver does (documented, and used by the tests)."""
    return hmac.compare_digest(sign(secret, body), header)


def encode_body(facts: Mapping[str, object]) -> str:
    """Compact, key-sorted JSON: the bytes that are signed and stored for every retry."""
    return json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def url_problem(url: str, *, require_https: bool) -> str | None:
    """Why this URL cannot be a webhook target (before any DNS lookup), or None: the shared
    parser's verdict (:mod:`burnrate_common.webhook_urls`), the one the rules service gives
    when the rule is written."""
    try:
        parse_webhook_url(url, require_https=require_https)
    except InvalidWebhookUrl as exc:
        return str(exc)
    return None
