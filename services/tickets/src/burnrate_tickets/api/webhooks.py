"""Webhooks of Jira Service Management and Zendesk; signatures checked in ``auth``."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Header

from burnrate_tickets.api import DepsDep
from burnrate_tickets.auth import JsmSignedBody, ZendeskSignedBody
from burnrate_tickets.schemas import WebhookOut
from burnrate_tickets.service import sources

router = APIRouter(prefix="/v1/webhooks", tags=["sources"])


@router.post(
    "/jsm",
    response_model=WebhookOut,
    summary="Jira Service Management: jira:issue_created, jira:issue_updated, comment_created",
)
async def jsm(
    body: JsmSignedBody,
    conn: ConnectionDep,
    deps: DepsDep,
    contract_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    x_atlassian_webhook_identifier: Annotated[str | None, Header()] = None,
) -> WebhookOut:
    return await sources.receive_jsm(
        conn,
        deps,
        body,
        contract_id=contract_id,
        customer_id=customer_id,
        webhook_id=x_atlassian_webhook_identifier,
    )


@router.post(
    "/zendesk",
    response_model=WebhookOut,
    summary="Zendesk ticket events (signed; delivered in any order)",
)
async def zendesk(
    body: ZendeskSignedBody,
    conn: ConnectionDep,
    deps: DepsDep,
    contract_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
) -> WebhookOut:
    return await sources.receive_zendesk(
        conn, deps, body, contract_id=contract_id, customer_id=customer_id
    )
