"""Who may call worklog-ingest: API keys with a worklogs scope, and Jira's signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from burnrate_common.auth import Principal, require
from burnrate_common.bodies import read_capped
from burnrate_common.deps import get_deps
from burnrate_common.errors import Problem
from fastapi import Depends, Request

from burnrate_worklog_ingest.service import Deps

WorklogsReader = Annotated[Principal, Depends(require("worklogs:read"))]
WorklogsWriter = Annotated[Principal, Depends(require("worklogs:write"))]

SIGNATURE_HEADER = "X-Hub-Signature"
MAX_JIRA_BODY_BYTES = 1024 * 1024


def verify_jira_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Jira signs the body with the webhook's secret: ``X-Hub-Signature: sha256=<hex
    HMAC-SHA256>``. Unset secret: 503 (webhooks not configured); missing or bad: 401."""
    if not secret:
        raise Problem(
            503,
            "Jira webhooks not configured",
            "Set BURNRATE_JIRA_WEBHOOK_SECRET to accept Jira webhooks.",
            field=SIGNATURE_HEADER,
        )
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not header or not hmac.compare_digest(header.strip().lower(), expected):
        raise Problem(
            401,
            "Bad signature",
            f"{SIGNATURE_HEADER} must be sha256=<HMAC-SHA256 of the body with the shared secret>.",
            field=SIGNATURE_HEADER,
        )


async def jira_signed_body(request: Request, deps: Annotated[Deps, Depends(get_deps)]) -> bytes:
    """The body of a Jira webhook (at most 1 MiB), once its signature is checked."""
    body = await read_capped(request, MAX_JIRA_BODY_BYTES, what="webhook")
    secret = deps.settings.jira_webhook_secret
    verify_jira_signature(
        secret.get_secret_value() if secret else None, body, request.headers.get(SIGNATURE_HEADER)
    )
    return body


#: A Jira webhook's body, signed with the shared secret.
JiraSignedBody = Annotated[bytes, Depends(jira_signed_body)]
