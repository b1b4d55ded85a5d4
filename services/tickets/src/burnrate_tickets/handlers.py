"""Events in → one use-case call each, in the consumer's transaction with the inbox row."""

from __future__ import annotations

from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged, Envelope, EventType
from burnrate_common.handling import EventHandlers

from burnrate_tickets.service import Deps, contracts

HANDLERS: EventHandlers[Deps] = EventHandlers()


# A deletion is kept as a tombstone with lifecycle "deleted": it attributes nothing.
@HANDLERS.on(EventType.CONTRACT_CREATED, EventType.CONTRACT_UPDATED, EventType.CONTRACT_DELETED)
async def on_contract_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await contracts.record_contract(conn, deps, payload, changed_at=envelope.occurred_at)
