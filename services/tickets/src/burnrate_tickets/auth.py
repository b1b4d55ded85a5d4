"""Who may call the tickets service: API keys with a tickets scope, and the signed webhooks
of Jira Service Management and Zendesk."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Annotated

from burnrate_common.auth import Principal, require
from burnrate_common.bodies import read_capped
from burnrate_common.deps import get_deps
from burnrate_common.errors import Problem
from fastapi import Depends, Request

from burnrate_tickets.service import Deps

TicketsReader = Annotated[Principal, Depends(require("tickets:read"))]
TicketsWriter = Annotated[Principal, Depends(require("tickets:write"))]

MAX_WEBHOOK_BYTES = 1024 * 1024
JSM_SIGNATURE = "X-Hub-Signature"
ZENDESK_SIGNATURE = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"


def _not_configured(what: str, setting: str, header: str) -> Problem:
    return Problem(
        503, f"{what} webhooks not configured", f"Set {setting} to accept them.", field=header
    )


def _bad(header: str, how: str) -> Problem:
    return Problem(401, "Bad signature", f"{header} must be {how}.", field=header)


def verify_jsm(secret: str | None, body: bytes, header: str | None) -> None:
    """Jira signs the body with the webhook's secret: ``X-Hub-Signature: sha256=<hex>``."""
    if not secret:
        raise _not_configured("JSM", "BURNRATE_TICKETS_JSM_WEBHOOK_SECRET", JSM_SIGNATURE)
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not header or not hmac.compare_digest(header.strip().lower().encode(), expected.encode()):
        raise _bad(JSM_SIGNATURE, "sha256=<HMAC-SHA256 of the body with the shared secret>")


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """As Zendesk signs: base64 of HMAC-SHA256 over the timestamp header then the body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_zendesk(
    secret: str | None,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: dt.datetime,
    tolerance_seconds: int,
) -> None:
    if not secret:
        raise _not_configured(
            "Zendesk", "BURNRATE_TICKETS_ZENDESK_WEBHOOK_SECRET", ZENDESK_SIGNATURE
        )
    if not timestamp:
        raise _bad(ZENDESK_TIMESTAMP, "the instant Zendesk signed the request")
    expected = zendesk_signature(secret, timestamp, body)
    if not signature or not hmac.compare_digest(signature.strip().encode(), expected.encode()):
        raise _bad(ZENDESK_SIGNATURE, "base64 HMAC-SHA256 of the timestamp and the body")
    try:
        signed = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(ZENDESK_TIMESTAMP, "an ISO 8601 instant") from exc
    if signed.tzinfo is None or abs((now - signed).total_seconds()) > tolerance_seconds:
        raise _bad(ZENDESK_TIMESTAMP, f"within {tolerance_seconds} s of now (a replay?)")


async def jsm_signed_body(request: Request, deps: Annotated[Deps, Depends(get_deps)]) -> bytes:
    body = await read_capped(request, MAX_WEBHOOK_BYTES, what="webhook")
    secret = deps.settings.jsm_webhook_secret
    verify_jsm(
        secret.get_secret_value() if secret else None, body, request.headers.get(JSM_SIGNATURE)
    )
    return body


async def zendesk_signed_body(request: Request, deps: Annotated[Deps, Depends(get_deps)]) -> bytes:
    body = await read_capped(request, MAX_WEBHOOK_BYTES, what="webhook")
    secret = deps.settings.zendesk_webhook_secret
    verify_zendesk(
        secret.get_secret_value() if secret else None,
        body,
        request.headers.get(ZENDESK_SIGNATURE),
        request.headers.get(ZENDESK_TIMESTAMP),
        deps.clock.now(),
        deps.settings.zendesk_signature_tolerance_seconds,
    )
    return body


JsmSignedBody = Annotated[bytes, Depends(jsm_signed_body)]
ZendeskSignedBody = Annotated[bytes, Depends(zendesk_signed_body)]
