"""All SQL of the notifier service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.events import Envelope

from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.recipients import ContactInfo

#: NOTIFY at commit of new or requeued deliveries wakes the sender (polling is the fallback).
WAKE_CHANNEL = "burnrate_notifier_deliveries"

# -- recipients replica ------------------------------------------------------------------


async def upsert_customer(
    conn: Connection, customer_id: uuid.UUID, name: str, source_at: dt.datetime
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
    conn: Connection,
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
    conn: Connection,
    *,
    contract_id: uuid.UUID,
    customer_id: uuid.UUID,
    code: str,
    title: str,
    owner_email: str,
    timezone: str,
    source_at: dt.datetime,
    teams: Sequence[str] = (),
    end_date: dt.date | None = None,
    currency: str = "EUR",
    overage_rate: Decimal | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, timezone, source_at,
                                  teams, end_date, currency, overage_rate)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (id) DO UPDATE
               SET customer_id = excluded.customer_id, code = excluded.code,
                   title = excluded.title, owner_email = excluded.owner_email,
                   timezone = excluded.timezone, source_at = excluded.source_at,
                   teams = excluded.teams, end_date = excluded.end_date,
                   currency = excluded.currency, overage_rate = excluded.overage_rate,
                   updated_at = now()
               WHERE contracts.source_at <= excluded.source_at""",
        contract_id,
        customer_id,
        code,
        title,
        owner_email,
        timezone,
        source_at,
        list(teams),
        end_date,
        currency,
        overage_rate,
    )


@dataclass(frozen=True)
class ReplicatedContract:
    """What the notifier knows of a contract, with its customer's name (None while the
    customer is not replicated)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    code: str
    title: str
    owner_email: str
    teams: list[str]
    end_date: dt.date | None
    currency: str
    overage_rate: Decimal | None
    customer_name: str | None
    #: the contract's IANA zone: instants in its mails are said in local time
    timezone: str = "UTC"


async def get_contract(conn: Connection, contract_id: uuid.UUID) -> ReplicatedContract | None:
    row = await conn.fetchrow(
        """SELECT k.id, k.customer_id, k.code, k.title, k.owner_email, k.teams, k.end_date,
                  k.currency, k.overage_rate, c.name AS customer_name, k.timezone
           FROM contracts k LEFT JOIN customers c ON c.id = k.customer_id
           WHERE k.id = $1""",
        contract_id,
    )
    return None if row is None else ReplicatedContract(**dict(row))


async def customer_contacts(conn: Connection, customer_id: uuid.UUID) -> list[ContactInfo] | None:
    """The customer's contacts in order; None when the customer is not replicated yet."""
    rows = await conn.fetch(
        """SELECT k.name, k.email, k.language
           FROM customers c LEFT JOIN contacts k ON k.customer_id = c.id
           WHERE c.id = $1 ORDER BY k.position""",
        customer_id,
    )
    if not rows:
        return None
    return [
        ContactInfo(r["name"], r["email"], r["language"]) for r in rows if r["email"] is not None
    ]


# -- deliveries --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDelivery:
    """One delivery of an alert: an e-mail (subject and both bodies) or a webhook (the URL
    as recipient, the JSON body as body_text). ``state`` is queued or suppressed."""

    id: uuid.UUID
    channel: Channel
    recipient: str
    role: str
    language: str
    body_text: str
    message_id: str | None = None
    subject: str | None = None
    body_html: str | None = None
    state: DeliveryState = DeliveryState.QUEUED
    reason: str | None = None
    #: the signed link of the List-Unsubscribe header (mails to contacts and extra addresses)
    unsubscribe_url: str | None = None


async def insert_deliveries(
    conn: Connection,
    *,
    alert_id: uuid.UUID,
    rule_id: uuid.UUID | None,
    contract_id: uuid.UUID,
    period_start: dt.date,
    trigger: str,
    stage: str,
    correlation_id: str,
    causation_id: uuid.UUID,
    deliveries: Sequence[NewDelivery],
) -> int:
    """Record the deliveries of an alert (or of a notice: ``alert_id`` its own id, no
    ``rule_id``); one already recorded for this alert, channel and recipient is skipped.
    Wakes the senders at commit when anything was queued. Returns how many were queued
    (suppressed ones not counted).

    ``created_at`` is the wall clock, not the transaction's start: the consumer handles
    several alerts in one transaction, and mails go out (and list) in the order queued."""
    if not deliveries:
        return 0
    rows = await conn.fetch(
        """INSERT INTO deliveries (id, alert_id, rule_id, contract_id, period_start, trigger,
                                   stage, channel, recipient, role, language, message_id,
                                   subject, body_text, body_html, state, reason,
                                   unsubscribe_url, correlation_id, causation_id, created_at)
           SELECT d.id, $1, $2, $3, $4, $5, $6, d.channel, d.recipient, d.role,
                  d.language, d.message_id, d.subject, d.body_text, d.body_html, d.state,
                  d.reason, d.unsubscribe_url, $7, $8, clock_timestamp()
           FROM unnest($9::uuid[], $10::text[], $11::text[], $12::text[], $13::text[],
                       $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
                       $19::text[], $20::text[])
                AS d (id, channel, recipient, role, language, message_id, subject, body_text,
                      body_html, state, reason, unsubscribe_url)
           ON CONFLICT (alert_id, channel, recipient) DO NOTHING
           RETURNING state""",
        alert_id,
        rule_id,
        contract_id,
        period_start,
        trigger,
        stage,
        correlation_id,
        causation_id,
        [d.id for d in deliveries],
        [d.channel.value for d in deliveries],
        [d.recipient for d in deliveries],
        [d.role for d in deliveries],
        [d.language for d in deliveries],
        [d.message_id for d in deliveries],
        [d.subject for d in deliveries],
        [d.body_text for d in deliveries],
        [d.body_html for d in deliveries],
        [d.state.value for d in deliveries],
        [d.reason for d in deliveries],
        [d.unsubscribe_url for d in deliveries],
    )
    queued = sum(1 for r in rows if r["state"] == DeliveryState.QUEUED)
    if queued:
        await wake_sender(conn)
    return queued


async def lock_mail_limit(
    conn: Connection, contract_id: uuid.UUID, rule_id: uuid.UUID, period_start: dt.date
) -> None:
    """Serialize the alerts of one contract, rule and period until commit, so two consumers
    counting the mails sent so far cannot both squeeze in under the limit."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"burnrate-notifier-mail-limit:{contract_id}:{rule_id}:{period_start.isoformat()}",
    )


async def mails_so_far(
    conn: Connection,
    contract_id: uuid.UUID,
    rule_id: uuid.UUID,
    period_start: dt.date,
    addresses: Sequence[str],
) -> dict[str, int]:
    """Mails queued or sent (not suppressed) per lower-cased address for this contract, rule
    and period."""
    rows = await conn.fetch(
        """SELECT lower(recipient) AS address, count(*) AS n FROM deliveries
           WHERE contract_id = $1 AND rule_id = $2 AND period_start = $3
             AND channel = 'email' AND state <> 'suppressed'
             AND lower(recipient) = any($4::text[])
           GROUP BY lower(recipient)""",
        contract_id,
        rule_id,
        period_start,
        [a.lower() for a in addresses],
    )
    return {r["address"]: r["n"] for r in rows}


async def lock_addresses(conn: Connection, addresses: Collection[str]) -> None:
    """Serialize the mails to these addresses until commit (in one order, so two
    transactions never wait on each other crosswise), so two consumers counting today's
    mails cannot both squeeze in under the daily cap."""
    for address in sorted({a.lower() for a in addresses}):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            f"burnrate-notifier-address:{address}",
        )


async def mails_today(conn: Connection, addresses: Sequence[str]) -> dict[str, int]:
    """Mails queued, sent or failed (not suppressed) per lower-cased address in the last 24
    hours, every contract and rule together."""
    rows = await conn.fetch(
        """SELECT lower(recipient) AS address, count(*) AS n FROM deliveries
           WHERE channel = 'email' AND state <> 'suppressed'
             AND lower(recipient) = any($1::text[])
             AND created_at > clock_timestamp() - interval '24 hours'
           GROUP BY lower(recipient)""",
        [a.lower() for a in addresses],
    )
    return {r["address"]: r["n"] for r in rows}


# -- opt-outs ----------------------------------------------------------------------------


async def opted_out(conn: Connection, addresses: Collection[str]) -> set[str]:
    """Which of these addresses (lower-cased) opted out."""
    rows = await conn.fetch(
        "SELECT email FROM opt_outs WHERE email = any($1::text[])",
        [a.lower() for a in addresses],
    )
    return {r["email"] for r in rows}


async def add_opt_out(conn: Connection, email: str) -> tuple[asyncpg.Record, bool]:
    """The opt-out of ``email`` and whether it is new."""
    row = await conn.fetchrow(
        """INSERT INTO opt_outs (email) VALUES ($1) ON CONFLICT DO NOTHING
           RETURNING email, created_at""",
        email.lower(),
    )
    if row is not None:
        return row, True
    existing = await conn.fetchrow(
        "SELECT email, created_at FROM opt_outs WHERE email = $1", email.lower()
    )
    assert existing is not None
    return existing, False


async def suppress_pending_mail(conn: Connection, email: str) -> int:
    """An address that just opted out gets none of the mails still waiting for it (an SMTP
    outage, a retry). A mail the sender holds right now is left alone (skipped): it is being
    handed over already."""
    status: str = await conn.execute(
        """UPDATE deliveries
           SET state = 'suppressed', reason = 'opted_out', updated_at = now()
           WHERE id IN (SELECT id FROM deliveries
                        WHERE channel = 'email' AND state IN ('queued', 'retrying')
                          AND lower(recipient) = $1
                        FOR UPDATE SKIP LOCKED)""",
        email.lower(),
    )
    return int(status.rsplit(" ", 1)[1])


async def remove_opt_out(conn: Connection, email: str) -> bool:
    status: str = await conn.execute("DELETE FROM opt_outs WHERE email = $1", email.lower())
    return status.endswith(" 1")


async def list_opt_outs(
    conn: Connection, after_email: str | None, limit: int
) -> list[asyncpg.Record]:
    """In address order, after ``after_email`` (keyset)."""
    return await conn.fetch(
        """SELECT email, created_at FROM opt_outs
           WHERE $1::text IS NULL OR email > $1 ORDER BY email LIMIT $2""",
        after_email,
        limit,
    )


async def wake_sender(conn: Connection) -> None:
    # Delivered at commit only, and not at all on rollback.
    await conn.execute(f"NOTIFY {WAKE_CHANNEL}")


_DUE = """state IN ('queued', 'retrying') AND next_attempt_at <= now() AND channel = $1"""


async def has_due(conn: Connection, channel: Channel) -> bool:
    return bool(
        await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM deliveries WHERE {_DUE})", channel.value)
    )


async def due_count(conn: Connection, channel: Channel, at_most: int) -> int:
    """How many deliveries of a channel are due, counting no further than ``at_most``."""
    count: int = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE {_DUE} LIMIT $2) AS due",
        channel.value,
        at_most,
    )
    return count


async def claim_due(conn: Connection, channel: Channel, limit: int) -> list[asyncpg.Record]:
    """Lock up to ``limit`` due deliveries of a channel for the caller's transaction; rows
    another sender holds are skipped, so two replicas never send the same delivery."""
    return await conn.fetch(
        f"""SELECT id, alert_id, contract_id, channel, recipient, stage, attempts, message_id,
                   subject, body_text, body_html, unsubscribe_url, correlation_id,
                   causation_id, created_at
            FROM deliveries WHERE {_DUE}
            ORDER BY next_attempt_at, created_at, id LIMIT $2
            FOR UPDATE SKIP LOCKED""",
        channel.value,
        limit,
    )


async def postpone_due(conn: Connection, channel: Channel, delay_seconds: float, error: str) -> int:
    """The server is away: every delivery of the channel due within ``delay_seconds`` waits
    until then, with the reason shown, and NO attempt spent. They all fall due together, so
    they go out in the order they were queued. Rows another sender holds are left alone."""
    status: str = await conn.execute(
        """UPDATE deliveries
           SET state = 'retrying', last_error = $3, updated_at = now(),
               next_attempt_at = now() + make_interval(secs => $2::float8)
           WHERE id IN (SELECT id FROM deliveries WHERE state IN ('queued', 'retrying')
                          AND channel = $1
                          AND next_attempt_at <= now() + make_interval(secs => $2::float8)
                        FOR UPDATE SKIP LOCKED)""",
        channel.value,
        delay_seconds,
        error,
    )
    return int(status.rsplit(" ", 1)[1])


async def mark_sent(conn: Connection, delivery_id: uuid.UUID, events: Sequence[Envelope]) -> int:
    """Record the delivery sent and add ``events`` to the outbox, in one statement (one round
    trip); returns the attempts it took."""
    row = await outbox.fetchrow_with(
        conn,
        """UPDATE deliveries
           SET state = 'sent', attempts = attempts + 1, sent_at = now(), updated_at = now()
           WHERE id = $1 RETURNING attempts""",
        [delivery_id],
        events,
    )
    if row is None:
        raise LookupError(f"no delivery {delivery_id} to mark sent")
    attempts: int = row["attempts"]
    return attempts


async def record_failure(
    conn: Connection,
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


async def set_aside(conn: Connection, delivery_id: uuid.UUID, error: str) -> int | None:
    """Fail a delivery still waiting, with the reason, counting the try; returns its
    attempts, or None when it is no longer waiting (settled meanwhile)."""
    attempts: int | None = await conn.fetchval(
        """UPDATE deliveries
           SET state = 'failed', attempts = attempts + 1, last_error = $2, updated_at = now(),
               next_attempt_at = now()
           WHERE id = $1 AND state IN ('queued', 'retrying')
           RETURNING attempts""",
        delivery_id,
        error,
    )
    return attempts


async def pending_count(conn: Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM deliveries WHERE state IN ('queued', 'retrying')"
    )
    return count


_DELIVERY_COLUMNS = """id, alert_id, contract_id, channel, recipient, role, language, trigger,
                       stage, state, reason, attempts, next_attempt_at, message_id, subject,
                       last_error, created_at, sent_at"""


async def get_delivery(conn: Connection, delivery_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS}, body_text, body_html FROM deliveries WHERE id = $1",
        delivery_id,
    )


async def list_deliveries(
    conn: Connection,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    *,
    state: DeliveryState | None,
    alert_id: uuid.UUID | None,
    contract_id: uuid.UUID | None,
    channel: Channel | None = None,
    reason: str | None = None,
) -> list[asyncpg.Record]:
    created_at, last_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))
    return await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM deliveries
            WHERE (created_at, id) > ($1, $2)
              AND ($4::text IS NULL OR state = $4)
              AND ($5::uuid IS NULL OR alert_id = $5)
              AND ($6::uuid IS NULL OR contract_id = $6)
              AND ($7::text IS NULL OR channel = $7)
              AND ($8::text IS NULL OR reason = $8)
            ORDER BY created_at, id LIMIT $3""",
        created_at,
        last_id,
        limit,
        state.value if state else None,
        alert_id,
        contract_id,
        channel.value if channel else None,
        reason,
    )


async def requeue_failed(conn: Connection, delivery_id: uuid.UUID) -> asyncpg.Record | None:
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


# -- the in-app feed ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewFeedEntry:
    id: uuid.UUID
    audience: str
    audience_key: str


async def insert_feed_entries(
    conn: Connection,
    *,
    alert_id: uuid.UUID,
    contract_id: uuid.UUID,
    trigger: str,
    stage: str,
    period_start: dt.date,
    period_end: dt.date,
    headline: str,
    facts: dict[str, object],
    entries: Sequence[NewFeedEntry],
) -> int:
    if not entries:
        return 0
    rows = await conn.fetch(
        """INSERT INTO feed_entries (id, alert_id, contract_id, audience, audience_key, trigger,
                                     stage, period_start, period_end, headline, facts,
                                     created_at)
           SELECT e.id, $1, $2, e.audience, e.audience_key, $3, $4, $5, $6, $7, $8,
                  clock_timestamp()
           FROM unnest($9::uuid[], $10::text[], $11::text[]) AS e (id, audience, audience_key)
           ON CONFLICT (alert_id, audience, audience_key) DO NOTHING
           RETURNING id""",
        alert_id,
        contract_id,
        trigger,
        stage,
        period_start,
        period_end,
        headline,
        facts,
        [e.id for e in entries],
        [e.audience for e in entries],
        [e.audience_key for e in entries],
    )
    return len(rows)


_FEED_COLUMNS = """id, alert_id, contract_id, audience, audience_key, trigger, stage,
                   period_start, period_end, headline, facts, created_at, read_at"""


async def list_feed(
    conn: Connection,
    *,
    audience: str,
    audience_key: str,
    unread: bool | None,
    contract_id: uuid.UUID | None,
    before: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first."""
    created_at, last_id = before or (
        dt.datetime.max.replace(tzinfo=dt.UTC),
        uuid.UUID(int=(1 << 128) - 1),
    )
    return await conn.fetch(
        f"""SELECT {_FEED_COLUMNS} FROM feed_entries
            WHERE audience = $1 AND audience_key = $2 AND (created_at, id) < ($3, $4)
              AND ($6::bool IS NULL OR (read_at IS NULL) = $6)
              AND ($7::uuid IS NULL OR contract_id = $7)
            ORDER BY created_at DESC, id DESC LIMIT $5""",
        audience,
        audience_key,
        created_at,
        last_id,
        limit,
        unread,
        contract_id,
    )


async def unread_count(conn: Connection, audience: str, audience_key: str) -> int:
    count: int = await conn.fetchval(
        """SELECT count(*) FROM feed_entries
           WHERE audience = $1 AND audience_key = $2 AND read_at IS NULL""",
        audience,
        audience_key,
    )
    return count


async def set_feed_read(conn: Connection, entry_id: uuid.UUID, read: bool) -> asyncpg.Record | None:
    """Mark an entry read (the first time counts) or unread; None if there is no such entry."""
    return await conn.fetchrow(
        f"""UPDATE feed_entries
            SET read_at = CASE WHEN $2 THEN coalesce(read_at, now()) END
            WHERE id = $1 RETURNING {_FEED_COLUMNS}""",
        entry_id,
        read,
    )
