"""Events in → use cases. Each handler runs in the consumer's transaction with the inbox row.

The routing replica (which contract and period a worklog counts against) is fed by the
contracts service's ``contract.*`` events; see ``service.routing``.
"""

from __future__ import annotations

from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged, Envelope, EventType
from burnrate_common.handling import EventHandlers

from burnrate_worklog_ingest.service import Deps, routing

HANDLERS: EventHandlers[Deps] = EventHandlers()


@HANDLERS.on(EventType.CONTRACT_CREATED, EventType.CONTRACT_UPDATED)
async def on_contract_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await routing.replicate_contract(conn, deps, payload, envelope.occurred_at)


@HANDLERS.on(EventType.CONTRACT_DELETED)
async def on_contract_deleted(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await routing.withdraw_contract(conn, deps, payload, envelope.occurred_at)
