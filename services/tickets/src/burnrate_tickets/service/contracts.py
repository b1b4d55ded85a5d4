"""The contract replica (``contract.*``): zone, Jira projects and service levels, and the
tickets a contract's arrival attributes or measures."""

from __future__ import annotations

import datetime as dt

from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged

from burnrate_tickets import store
from burnrate_tickets.service import Deps
from burnrate_tickets.service.tickets import level_at, refresh


async def record_contract(
    conn: Connection, deps: Deps, contract: ContractChanged, *, changed_at: dt.datetime
) -> None:
    """Keep the contract's newest state; tickets kept for it (by contract, customer or
    Jira project) are attributed, and its tickets without a level get the one in force when
    they opened. A level already set is never changed: changes apply to tickets opened after
    them."""
    async with conn.transaction():
        if not await store.upsert_contract(conn, contract, changed_at):
            return
        row = await store.contract(conn, contract.id)
        assert row is not None
        if contract.lifecycle != "active":
            return
        for ticket in await store.waiting_for_contract(
            conn, contract.id, contract.customer_id, contract.jira_project_keys
        ):
            level = level_at(row, ticket["opened_at"])
            if ticket["contract_id"] is not None and level is None:
                continue
            updated = await store.update_ticket(
                conn,
                ticket["id"],
                {
                    "contract_id": contract.id,
                    "customer_id": contract.customer_id,
                    "attribution": "attributed",
                    "level": level.level if level else None,
                    "level_terms": level.model_dump(mode="json") if level else None,
                },
            )
            await refresh(conn, deps, updated)
