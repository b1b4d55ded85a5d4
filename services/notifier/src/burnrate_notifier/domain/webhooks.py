"""Outbound webhooks: the JSON body of an alert, its signature, and which URLs are allowed."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

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
    """Why this URL cannot be a webhook target (before any DNS lookup), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    del port
    if parts.scheme not in ("https", "http"):
        return "the URL must be http or https"
    if require_https and parts.scheme != "https":
        return "the URL must be https"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        return "the URL must not carry credentials"
    return None


def address_problem(address: str) -> str | None:
    """Why a resolved address is refused (loopback, link-local, private …), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, refused in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
    ):
        if refused:
            return f"{address} is a {kind} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


def addresses_problem(addresses: Iterable[str]) -> str | None:
    """Refuse the host if ANY address it resolves to is refused (no picking the good one)."""
    for address in addresses:
        problem = address_problem(address)
        if problem:
            return problem
    return None
