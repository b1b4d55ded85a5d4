"""The customer's side: a statement goes out with a signed link; through it the customer
reads the statement, approves the balance, or disputes lines with a comment.

The link is a ``burnrate_common.report_links`` token signed with the configured secret
(``BURNRATE_REPORT_LINK_SECRET``) under a billing-only key derivation, so a customer's
report link does not open statements and a statement link opens only its statement.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from burnrate_common import report_links
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.events import EventType

from burnrate_billing import store
from burnrate_billing.schemas import CustomerApproveIn, CustomerDisputeIn, SentOut, StatementOut
from burnrate_billing.service import Deps
from burnrate_billing.service.compute import refresh
from burnrate_billing.service.statements import (
    approve,
    publish,
    statement_or_404,
    statement_out,
    transition,
)


def _secret(deps: Deps) -> bytes:
    if not deps.settings.has_link_secret:
        raise Problem(
            503,
            "Links not configured",
            "Set BURNRATE_REPORT_LINK_SECRET: statements go to customers with signed links.",
            field="BURNRATE_REPORT_LINK_SECRET",
        )
    return deps.settings.link_secret + b"|billing-statement"


def link_of(deps: Deps, statement_id: uuid.UUID, now: dt.datetime) -> tuple[str, dt.datetime]:
    expires_at = (now + dt.timedelta(days=deps.settings.billing_approval_link_days)).replace(
        microsecond=0
    )
    token = report_links.sign(_secret(deps), statement_id, expires_at)
    base = deps.settings.billing_public_url.rstrip("/")
    return f"{base}/v1/customer/statements/{token}", expires_at


def statement_of_link(deps: Deps, token: str) -> uuid.UUID:
    try:
        grant = report_links.verify(_secret(deps), token, deps.clock.now())
    except report_links.InvalidLink as exc:
        if str(exc) == "expired":
            raise Problem(
                410, "Link expired", "token: the link has expired; ask for a new one", field="token"
            ) from exc
        raise Problem(403, "Invalid link", "token: the link is not valid", field="token") from exc
    return grant.customer_id  # the signed id is the statement's


async def send(
    conn: Connection, deps: Deps, statement_id: uuid.UUID, *, actor: str, reason: str | None
) -> SentOut:
    """To the customer: a signed link in ``statement.sent`` (the notifier mails it)."""
    now = deps.clock.now()
    link, expires_at = link_of(deps, statement_id, now)
    async with conn.transaction():
        row, contract = await transition(
            conn,
            deps,
            statement_id,
            "send",
            actor=actor,
            reason=reason,
            sent_at=now,
            link_expires_at=expires_at,
        )
        await publish(conn, deps, EventType.STATEMENT_SENT, row, contract, link)
    out = await statement_out(conn, deps, row, contract=contract)
    return SentOut(**out.model_dump(), link=link, link_expires_at=expires_at)


async def _customer_statement(conn: Connection, deps: Deps, token: str) -> asyncpg.Record:
    statement_id = statement_of_link(deps, token)
    row = await statement_or_404(conn, statement_id)
    if row["status"] in ("draft", "in_review"):
        raise Problem(
            403, "Invalid link", "token: the statement is not open to the customer", field="token"
        )
    return row


async def customer_view(conn: Connection, deps: Deps, token: str) -> StatementOut:
    return await statement_out(conn, deps, await _customer_statement(conn, deps, token))


async def customer_approve(
    conn: Connection, deps: Deps, token: str, body: CustomerApproveIn
) -> StatementOut:
    """The customer approves the balance: who (as they signed) and when are recorded."""
    statement = await _customer_statement(conn, deps, token)
    return await approve(conn, deps, statement["id"], actor=f"customer: {body.name}", reason=None)


async def customer_dispute(
    conn: Connection, deps: Deps, token: str, body: CustomerDisputeIn
) -> StatementOut:
    """The customer disputes lines: they are held (not invoiced) with the comment."""
    statement = await _customer_statement(conn, deps, token)
    who = f"customer: {body.name}"
    async with conn.transaction():
        row, contract = await transition(
            conn, deps, statement["id"], "dispute", actor=who, reason=body.comment
        )
        known = {r["worklog_id"] for r in await store.lines_of(conn, row["id"])}
        for index, worklog_id in enumerate(body.worklog_ids):
            if worklog_id not in known:
                raise Problem(
                    422,
                    "Unknown line",
                    f"worklog_ids.{index}: no line of worklog {worklog_id} on this statement",
                    field=f"worklog_ids.{index}",
                )
            await store.add_mark(
                conn,
                {
                    "statement_id": row["id"],
                    "worklog_id": worklog_id,
                    "mark": "disputed",
                    "reason": body.comment,
                    "created_by": who,
                    "created_at": deps.clock.now(),
                },
            )
        await refresh(conn, deps, contract["id"], actor=who, cause="lines disputed")
        row = await statement_or_404(conn, row["id"])
    return await statement_out(conn, deps, row, contract=contract)
