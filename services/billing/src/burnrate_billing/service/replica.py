"""The replicas billing keeps of other services' data: contracts (with their periods and
terms), worklogs, confirmed tickets and breached targets; each change re-computes the
contract's open statements."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.event_payloads import SlaStageReached, TicketConfirmed
from burnrate_common.events import ContractChanged, Worklog

from burnrate_billing import store
from burnrate_billing.schemas import TicketConfirmationOut
from burnrate_billing.service import Deps
from burnrate_billing.service.compute import refresh, terms_json


async def record_contract(
    conn: Connection, deps: Deps, contract: ContractChanged, *, changed_at: dt.datetime
) -> None:
    """Keep the contract's newest state; a billed contract gets a draft statement per period
    (rated with the terms of the moment; later term changes wait for ``rerate``)."""
    async with conn.transaction():
        if not await store.upsert_contract(conn, contract, changed_at):
            return
        await store.replace_periods(conn, contract)
        row = await store.get_contract(conn, contract.id)
        if row is None or contract.billing is None or contract.lifecycle == "deleted":
            return
        await store.create_statements(conn, contract.id, terms_json(row), deps.clock.now())
        await refresh(conn, deps, contract.id, actor="contracts", cause="contract changed")


async def record_worklogs(
    conn: Connection, deps: Deps, worklogs: Sequence[Worklog], *, deleted: bool, cause: str
) -> None:
    async with conn.transaction():
        for contract_id in await store.upsert_worklogs(conn, worklogs, deleted=deleted):
            await refresh(conn, deps, contract_id, actor="worklog-ingest", cause=cause)


async def record_confirmation(conn: Connection, deps: Deps, payload: TicketConfirmed) -> None:
    async with conn.transaction():
        if await store.confirm_ticket(
            conn, payload.contract_id, payload.reference, payload.confirmed_at, "tickets"
        ):
            await refresh(
                conn, deps, payload.contract_id, actor="tickets", cause="ticket confirmed"
            )


async def confirm_ticket(
    conn: Connection, deps: Deps, contract_id: uuid.UUID, reference: str, actor: str
) -> TicketConfirmationOut:
    """Until tickets feeds confirmations: a person confirms a ticket closed for billing."""
    async with conn.transaction():
        if await store.get_contract(conn, contract_id) is None:
            raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
        if await store.confirm_ticket(conn, contract_id, reference, deps.clock.now(), actor):
            await refresh(
                conn, deps, contract_id, actor=actor, cause=f"ticket {reference} confirmed"
            )
    return TicketConfirmationOut(contract_id=contract_id, reference=reference, confirmed=True)


async def record_breach(conn: Connection, deps: Deps, payload: SlaStageReached) -> None:
    """A breached resolution target credits the customer by the contract's terms."""
    async with conn.transaction():
        recorded = await store.record_breach(
            conn,
            {
                "ticket_id": payload.ticket_id,
                "metric": payload.metric,
                "cycle": payload.cycle,
                "contract_id": payload.contract_id,
                "reference": payload.reference,
                "level": payload.level,
                "reached_at": payload.reached_at,
            },
        )
        if recorded and payload.metric == "resolution":
            await refresh(
                conn,
                deps,
                payload.contract_id,
                actor="tickets",
                cause=f"resolution target of ticket {payload.reference} breached",
            )
