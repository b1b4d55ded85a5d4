"""All SQL of the notifier service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from burnrate_notifier.domain.deliveries import DeliveryState

#: NOTIFY at commit of new or requeued deliveries wakes the sender (polling is the fallback).
WAKE_CHANNEL = "burnrate_notifier_deliveries"

# -- recipients replica ------------------------------------------------------------------


async def upsert_customer(
    conn: asyncpg.Connection, customer_id: uuid.UUID, name: str, source_at: dt.datetime
) -> bool:
    """True when this state is at least as new as the stored one (and so was applied)."""
    applied = await conn.fetchval(
        """INSERT INTO customers (id, name, source_at) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE
               SET name = excluded.name, source_at = excluded.source_at, updated_at = now()
               WHERE customers.source_at <= excluded.source_at
           RETURNING true""",
        customer_id,
        name,
        source_at,
    )
    return bool(applied)


async def replace_contacts(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    contacts: Sequence[tuple[uuid.UUID, str, str, str]],
) -> None:
    """The customer's contacts become exactly ``(id, name, email, language)``, in this order."""
    await conn.execute("DELETE FROM contacts WHERE customer_id = $1", customer_id)
    await conn.execute(
        """INSERT INTO contacts (id, customer_id, name, email, language, position)
           SELECT c.id, $1, c.name, c.email, c.language, c.ord - 1
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[])
                WITH ORDINALITY AS c (id, name, email, language, ord)""",
        customer_id,
        [c[0] for c in contacts],
        [c[1] for c in contacts],
        [c[2] for c in contacts],
        [c[3] for c in contacts],
    )


async def upsert_contract(
    conn: asyncpg.Connection,
    *,
    contract_id: uuid.UUID,
    customer_id: uuid.UUID,
    code: str,
    title: str,
    owner_email: str,
    timezone: str,
    source_at: dt.datetime,
) -> None:
    await conn.execute(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, timezone, source_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO UPDATE
               SET customer_id = excluded.customer_id, code = excluded.code,
                   title = excluded.title, owner_email = excluded.owner_email,
                   timezone = excluded.timezone, source_at = excluded.source_at,
                   updated_at = now()
               WHERE contracts.source_at <= excluded.source_at""",
        contract_id,
        customer_id,
        code,
        title,
        owner_email,
        timezone,
        source_at,
    )


async def get_contract(conn: asyncpg.Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, customer_id, code, title, owner_email FROM contracts WHERE id = $1",
        contract_id,
    )


async def customer_contacts(
    conn: asyncpg.Connection, customer_id: uuid.UUID
) -> list[asyncpg.Record] | None:
    """The customer's contacts in order; None when the customer is not replicated yet."""
    rows = await conn.fetch(
        """SELECT k.name, k.email, k.language
           FROM customers c LEFT JOIN contacts k ON k.customer_id = c.id
           WHERE c.id = $1 ORDER BY k.position""",
        customer_id,
    )
    if not rows:
        return None
    return [r for r in rows if r["email"] is not None]


# -- deliveries --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEmailDelivery:
    recipient: str
    role: str
    language: str
    message_id: str
    subject: str
    body_text: str
    body_html: str


async def insert_email_deliveries(
    conn: asyncpg.Connection,
    *,
    alert_id: uuid.UUID,
    rule_id: uuid.UUID,
    contract_id: uuid.UUID,
    period_start: dt.date,
    trigger: str,
    stage: str,
    correlation_id: str,
    causation_id: uuid.UUID,
    deliveries: Sequence[NewEmailDelivery],
) -> int:
    """Queue one e-mail per recipient; an alert already queued for an address is skipped.
    Wakes the sender at commit when anything was queued. Returns how many were queued."""
    if not deliveries:
        return 0
    rows = await conn.fetch(
        """INSERT INTO deliveries (id, alert_id, rule_id, contract_id, period_start, trigger,
                                   stage, channel, recipient, role, language, message_id,
                                   subject, body_text, body_html, correlation_id, causation_id)
           SELECT gen_random_uuid(), $1, $2, $3, $4, $5, $6, 'email', d.recipient, d.role,
                  d.language, d.message_id, d.subject, d.body_text, d.body_html, $7, $8
           FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                       $14::text[], $15::text[])
                AS d (recipient, role, language, message_id, subject, body_text, body_html)
           ON CONFLICT (alert_id, channel, recipient) DO NOTHING
           RETURNING id""",
        alert_id,
        rule_id,
        contract_id,
        period_start,
        trigger,
        stage,
        correlation_id,
        causation_id,
        [d.recipient for d in deliveries],
        [d.role for d in deliveries],
        [d.language for d in deliveries],
        [d.message_id for d in deliveries],
        [d.subject for d in deliveries],
        [d.body_text for d in deliveries],
        [d.body_html for d in deliveries],
    )
    if rows:
        await wake_sender(conn)
    return len(rows)


async def wake_sender(conn: asyncpg.Connection) -> None:
    # Delivered at commit only, and not at all on rollback.
    await conn.execute(f"NOTIFY {WAKE_CHANNEL}")


_DUE = """state IN ('queued', 'retrying') AND next_attempt_at <= now() AND channel = 'email'"""


async def has_due(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM deliveries WHERE {_DUE})"))


async def claim_due(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Lock up to ``limit`` due e-mails for the caller's transaction; rows another sender
    holds are skipped, so two replicas never send the same delivery."""
    return await conn.fetch(
        f"""SELECT id, alert_id, contract_id, channel, recipient, stage, attempts, message_id,
                   subject, body_text, body_html, correlation_id, causation_id, created_at
            FROM deliveries WHERE {_DUE}
            ORDER BY next_attempt_at, id LIMIT $1
            FOR UPDATE SKIP LOCKED""",
        limit,
    )


async def mark_sent(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> int:
    """Returns the attempts it took."""
    attempts: int = await conn.fetchval(
        """UPDATE deliveries
           SET state = 'sent', attempts = attempts + 1, sent_at = now(), updated_at = now()
           WHERE id = $1 RETURNING attempts""",
        delivery_id,
    )
    return attempts


async def record_failure(
    conn: asyncpg.Connection,
    delivery_id: uuid.UUID,
    *,
    state: DeliveryState,
    attempts: int,
    delay_seconds: float | None,
    error: str,
) -> None:
    await conn.execute(
        """UPDATE deliveries
           SET state = $2, attempts = $3, last_error = $5, updated_at = now(),
               next_attempt_at = now() + make_interval(secs => coalesce($4::float8, 0))
           WHERE id = $1""",
        delivery_id,
        state.value,
        attempts,
        delay_seconds,
        error,
    )


async def pending_count(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM deliveries WHERE state IN ('queued', 'retrying')"
    )
    return count


_DELIVERY_COLUMNS = """id, alert_id, contract_id, channel, recipient, role, language, trigger,
                       stage, state, attempts, next_attempt_at, message_id, subject, last_error,
                       created_at, sent_at"""


async def get_delivery(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS}, body_text, body_html FROM deliveries WHERE id = $1",
        delivery_id,
    )


async def list_deliveries(
    conn: asyncpg.Connection,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    *,
    state: DeliveryState | None,
    alert_id: uuid.UUID | None,
    contract_id: uuid.UUID | None,
) -> list[asyncpg.Record]:
    created_at, last_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))
    return await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM deliveries
            WHERE (created_at, id) > ($1, $2)
              AND ($4::text IS NULL OR state = $4)
              AND ($5::uuid IS NULL OR alert_id = $5)
              AND ($6::uuid IS NULL OR contract_id = $6)
            ORDER BY created_at, id LIMIT $3""",
        created_at,
        last_id,
        limit,
        state.value if state else None,
        alert_id,
        contract_id,
    )


async def requeue_failed(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> asyncpg.Record | None:
    """A failed delivery back in the queue, due now, attempts kept; None if it is not failed."""
    row = await conn.fetchrow(
        f"""UPDATE deliveries
            SET state = 'queued', next_attempt_at = now(), updated_at = now()
            WHERE id = $1 AND state = 'failed'
            RETURNING {_DELIVERY_COLUMNS}, body_text, body_html""",
        delivery_id,
    )
    if row is not None:
        await wake_sender(conn)
    return row
