"""Mappings of a source's own names to Burnrate's: a Zendesk organization → a customer, so
Zendesk tickets are attributed without query parameters on the webhook (JSM maps by the
contracts' Jira project keys)."""

from __future__ import annotations

import uuid

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_keys, encode_keys

from burnrate_tickets import store
from burnrate_tickets.schemas import ZendeskOrganizationOut
from burnrate_tickets.service import Deps
from burnrate_tickets.service.tickets import attribution, refresh


def _out(row: asyncpg.Record, attributed: int = 0) -> ZendeskOrganizationOut:
    return ZendeskOrganizationOut(
        org_id=row["org_id"],
        customer_id=row["customer_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attributed=attributed,
    )


def _not_found(org_id: str) -> Problem:
    return Problem(404, "Not found", f"No mapping of organization {org_id!r}.", field="org_id")


async def put_zendesk_organization(
    conn: Connection, deps: Deps, org_id: str, customer_id: uuid.UUID
) -> tuple[ZendeskOrganizationOut, bool]:
    """Map the organization to the customer; ``(mapping, created)``. Tickets kept for the
    organization (named by neither contract nor customer, or by the customer of the
    mapping this one replaces) are attributed to the customer's contract now, or when it
    arrives."""
    async with conn.transaction():
        before = await store.zendesk_organization(conn, org_id)
        row, created = await store.put_zendesk_organization(conn, org_id, customer_id)
        previous = before["customer_id"] if before is not None else None
        attributed = 0
        for ticket in await store.unattributed_of_organization(conn, "zendesk", org_id):
            if ticket["attribution"] != "unknown_organization" and (
                previous is None or ticket["asked_customer_id"] != previous
            ):
                continue  # the webhook named its customer itself: that one stands
            whose = await attribution(
                conn,
                contract_id=None,
                customer_id=customer_id,
                project_key=None,
                at=ticket["opened_at"],
                organization_id=org_id,
            )
            updated = await store.update_ticket(conn, ticket["id"], whose)
            if updated["contract_id"] is not None:
                attributed += 1
                await refresh(conn, deps, updated)
        return _out(row, attributed), created


async def get_zendesk_organization(conn: Connection, org_id: str) -> ZendeskOrganizationOut:
    row = await store.zendesk_organization(conn, org_id)
    if row is None:
        raise _not_found(org_id)
    return _out(row)


async def list_zendesk_organizations(
    conn: Connection, *, limit: int, cursor: str | None
) -> Page[ZendeskOrganizationOut]:
    keys = decode_keys(cursor, 1)
    after = keys[0] if keys else None
    rows = await store.zendesk_organizations(conn, after, limit + 1)
    page = rows[:limit]
    next_cursor = encode_keys(page[-1]["org_id"]) if len(rows) > limit else None
    return Page(items=[_out(r) for r in page], next_cursor=next_cursor)


async def delete_zendesk_organization(conn: Connection, org_id: str) -> None:
    """Forget the mapping; tickets already attributed keep their contract."""
    async with conn.transaction():
        if not await store.delete_zendesk_organization(conn, org_id):
            raise _not_found(org_id)
