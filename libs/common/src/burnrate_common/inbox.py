"""The inbox: an event's id recorded in the same transaction as its effect."""

from __future__ import annotations

from burnrate_common.db import Connection
from burnrate_common.events import Envelope


async def claim(conn: Connection, envelope: Envelope) -> bool:
    """True the first time this event is seen; False for a redelivery (the effect is skipped).

    Idempotency by constraint, not by check-then-insert: two replicas racing on the same
    event serialize on the primary key and only one commits its effect.
    """
    row = await conn.fetchval(
        "INSERT INTO inbox (event_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        envelope.id,
        envelope.type.value,
    )
    return row is not None
