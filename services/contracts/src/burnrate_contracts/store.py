"""All SQL of the contracts service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from burnrate_common.db import Connection

from burnrate_contracts.domain.listing import Sort

# ---------------------------------------------------------------------------------------------
# customers and contacts


async def insert_customer(
    conn: Connection,
    customer_id: uuid.UUID,
    name: str,
    contacts: list[dict[str, Any]],
    billing: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO customers (id, name, billing) VALUES ($1, $2, $3)", customer_id, name, billing
    )
    await conn.executemany(
        """INSERT INTO contacts (id, customer_id, name, email, language, position)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [
            (c["id"], customer_id, c["name"], c["email"], c["language"], i)
            for i, c in enumerate(contacts)
        ],
    )


_CUSTOMER_SELECT = """
    SELECT c.id, c.name, c.billing, c.version, c.created_at, c.updated_at,
           coalesce(jsonb_agg(jsonb_build_object(
               'id', k.id, 'name', k.name, 'email', k.email, 'language', k.language)
               ORDER BY k.position) FILTER (WHERE k.id IS NOT NULL), '[]') AS contacts
    FROM customers c LEFT JOIN contacts k ON k.customer_id = c.id
"""


async def get_customer(conn: Connection, customer_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_CUSTOMER_SELECT + " WHERE c.id = $1 GROUP BY c.id", customer_id)


async def list_customers(
    conn: Connection, after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    created_at, last_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))
    return await conn.fetch(
        _CUSTOMER_SELECT
        + " WHERE (c.created_at, c.id) > ($1, $2) GROUP BY c.id ORDER BY c.created_at, c.id LIMIT $3",
        created_at,
        last_id,
        limit,
    )


async def customer_has_contracts(conn: Connection, customer_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval("SELECT true FROM contracts WHERE customer_id = $1", customer_id)
    )


async def delete_customer(conn: Connection, customer_id: uuid.UUID) -> None:
    """The customer and its contacts go (ON DELETE CASCADE); its history rows stay."""
    await conn.execute("DELETE FROM customers WHERE id = $1", customer_id)


async def customer_exists(conn: Connection, customer_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM customers WHERE id = $1", customer_id))


async def lock_customer(conn: Connection, customer_id: uuid.UUID) -> int | None:
    """The customer's version, the row locked until the transaction ends (None: no customer)."""
    version: int | None = await conn.fetchval(
        "SELECT version FROM customers WHERE id = $1 FOR UPDATE", customer_id
    )
    return version


async def touch_customer(conn: Connection, customer_id: uuid.UUID, name: str | None = None) -> int:
    """Bump the customer's version (and rename it); returns the new version."""
    version: int = await conn.fetchval(
        """UPDATE customers SET name = coalesce($2, name), version = version + 1,
                                updated_at = now()
           WHERE id = $1 RETURNING version""",
        customer_id,
        name,
    )
    return version


async def set_customer_billing(
    conn: Connection, customer_id: uuid.UUID, billing: dict[str, Any] | None
) -> None:
    """Replace the billing details (the caller bumps the version with ``touch_customer``)."""
    await conn.execute("UPDATE customers SET billing = $2 WHERE id = $1", customer_id, billing)


async def contact_email_taken(
    conn: Connection, customer_id: uuid.UUID, email: str, except_id: uuid.UUID | None = None
) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT true FROM contacts WHERE customer_id = $1 AND lower(email) = lower($2)
                 AND id IS DISTINCT FROM $3""",
            customer_id,
            email,
            except_id,
        )
    )


async def insert_contact(conn: Connection, customer_id: uuid.UUID, contact: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO contacts (id, customer_id, name, email, language, position)
           SELECT $1, $2, $3, $4, $5, coalesce(max(position) + 1, 0)
           FROM contacts WHERE customer_id = $2""",
        contact["id"],
        customer_id,
        contact["name"],
        contact["email"],
        contact["language"],
    )


async def get_contact(
    conn: Connection, customer_id: uuid.UUID, contact_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, name, email, language FROM contacts WHERE customer_id = $1 AND id = $2",
        customer_id,
        contact_id,
    )


async def update_contact(conn: Connection, contact_id: uuid.UUID, values: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE contacts SET name = $2, email = $3, language = $4 WHERE id = $1""",
        contact_id,
        values["name"],
        values["email"],
        values["language"],
    )


async def delete_contact(conn: Connection, contact_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM contacts WHERE id = $1", contact_id)


# ---------------------------------------------------------------------------------------------
# contracts


async def code_taken(conn: Connection, code: str, except_id: uuid.UUID | None = None) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM contracts WHERE code = $1 AND id IS DISTINCT FROM $2",
            code,
            except_id,
        )
    )


async def lock_routes(conn: Connection) -> None:
    """Serialize the clash checks of concurrent writes until the transaction ends: two
    creates with the same work account would each pass the check alone."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('contracts routes ' || current_schema()))"
    )


#: Another contract ``c`` whose term overlaps ``$2``–``$3`` in zone ``$4`` as instants: worklog-ingest
#: routes a worklog by its local date in each contract's own zone, so 30 June in Los Angeles
#: and 1 July in Auckland share hours although the dates do not overlap. The date test
#: first (a day either way) keeps the index usable.
_OVERLAPS = """c.start_date <= $3::date + 1 AND c.end_date >= $2::date - 1
    AND c.start_date::timestamp AT TIME ZONE c.timezone < ($3::date + 1)::timestamp AT TIME ZONE $4
    AND (c.end_date + 1)::timestamp AT TIME ZONE c.timezone > $2::date::timestamp AT TIME ZONE $4
    AND c.id IS DISTINCT FROM $5"""


async def work_accounts_in_use(
    conn: Connection,
    accounts: list[str],
    start_date: dt.date,
    end_date: dt.date,
    timezone: str,
    except_id: uuid.UUID | None = None,
) -> list[str]:
    """Accounts already routed to another contract whose term overlaps this one."""
    if not accounts:
        return []
    rows = await conn.fetch(
        f"""SELECT DISTINCT account FROM contracts c, unnest(c.work_accounts) AS account
            WHERE c.work_accounts && $1::text[] AND account = any($1::text[]) AND {_OVERLAPS}""",
        accounts,
        start_date,
        end_date,
        timezone,
        except_id,
    )
    return sorted(r["account"] for r in rows)


async def project_keys_in_use(
    conn: Connection,
    keys: list[str],
    teams: list[str],
    start_date: dt.date,
    end_date: dt.date,
    timezone: str,
    except_id: uuid.UUID | None = None,
) -> list[str]:
    """Jira keys another contract with overlapping term holds for one of these teams.

    worklog-ingest routes key + team to the contract naming the team, else to one without
    teams; two naming the same team, or two without teams, leave the worklog ambiguous.
    """
    if not keys:
        return []
    rows = await conn.fetch(
        f"""SELECT DISTINCT key FROM contracts c, unnest(c.jira_project_keys) AS key
            WHERE c.jira_project_keys && $1::text[] AND key = any($1::text[])
              AND (c.teams && $6::text[] OR (c.teams = '{{}}' AND $6::text[] = '{{}}'))
              AND {_OVERLAPS}""",
        keys,
        start_date,
        end_date,
        timezone,
        except_id,
        teams,
    )
    return sorted(r["key"] for r in rows)


#: Columns a contract is written with (besides id and customer_id), in the API's vocabulary.
CONTRACT_FIELDS = (
    "code",
    "title",
    "owner_email",
    "start_date",
    "end_date",
    "timezone",
    "period",
    "planned_hours",
    "teams",
    "work_accounts",
    "lifecycle",
    "jira_project_keys",
    "currency",
    "overage_rate",
    "allowance_policy",
    "rollover_policy",
    "rollover_cap_hours",
    "rollover_expires_after_periods",
    "prorate_partial_periods",
    "period_overrides",
    "billing",
    "rate_card_id",
)

_CONTRACT_COLUMNS = (
    "id, customer_id, "
    + ", ".join(CONTRACT_FIELDS)
    + ", version, closed_at, created_at, updated_at"
)


async def insert_contract(conn: Connection, contract_id: uuid.UUID, values: dict[str, Any]) -> None:
    columns = ["id", "customer_id", *CONTRACT_FIELDS]
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO contracts ({', '.join(columns)}) VALUES ({params})",
        contract_id,
        values["customer_id"],
        *(values[f] for f in CONTRACT_FIELDS),
    )


async def get_contract(
    conn: Connection, contract_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {_CONTRACT_COLUMNS} FROM contracts WHERE id = $1{lock}", contract_id
    )


async def delete_contract(conn: Connection, contract_id: uuid.UUID) -> None:
    """The row goes (its code is free again); its history rows stay."""
    await conn.execute("DELETE FROM contracts WHERE id = $1", contract_id)


async def update_contract(
    conn: Connection, contract_id: uuid.UUID, values: dict[str, Any]
) -> asyncpg.Record:
    """Write the changed fields, bump the version; returns the new row."""
    unknown = set(values) - {*CONTRACT_FIELDS, "closed_at"}
    if unknown:
        raise ValueError(f"not contract columns: {sorted(unknown)}")
    names = list(values)
    sets = "".join(f"{name} = ${i}, " for i, name in enumerate(names, start=2))
    row = await conn.fetchrow(
        f"""UPDATE contracts SET {sets}version = version + 1, updated_at = now()
            WHERE id = $1 RETURNING {_CONTRACT_COLUMNS}""",
        contract_id,
        *(values[n] for n in names),
    )
    assert row is not None
    return row


#: The derived status of ``c`` on local day ``t.today`` with the expiring window ``{window}`` (days);
#: the SQL twin of ``burnrate_common.contract_status.derive_status`` (never ``exhausted`` here:
#: contracts does not know the consumption), tested against ``CONTRACT_STATUS_CASES``.
STATUS_SQL = """CASE WHEN c.lifecycle <> 'active' THEN c.lifecycle
                     WHEN t.today < c.start_date THEN 'not_started'
                     WHEN t.today > c.end_date THEN 'expired'
                     WHEN c.end_date - t.today <= {window}::int THEN 'expiring'
                     ELSE 'active' END"""

_SORT_COLUMNS = {
    "code": ("c.code", "text"),
    "end_date": ("c.end_date", "date"),
    "created_at": ("c.created_at", "timestamptz"),
}


async def list_contracts(
    conn: Connection,
    *,
    now: dt.datetime,
    expiring_window_days: int,
    sort: Sort,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
    statuses: Sequence[str] = (),
    customer_id: uuid.UUID | None = None,
    owner: str | None = None,
    team: str | None = None,
    expiring_within_days: int | None = None,
    like: str | None = None,
) -> list[asyncpg.Record]:
    """One page of contracts, filtered, in ``sort`` order after the row ``after`` (key, id)."""
    column, sql_type = _SORT_COLUMNS[sort.key]
    params: list[Any] = [now]
    where: list[str] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if statuses:
        status = STATUS_SQL.format(window=param(expiring_window_days))
        where.append(f"({status}) = any({param(list(statuses))}::text[])")
    if customer_id is not None:
        where.append(f"c.customer_id = {param(customer_id)}")
    if owner is not None:
        where.append(f"lower(c.owner_email) = lower({param(owner)})")
    if team is not None:
        where.append(f"c.teams @> ARRAY[{param(team)}]::text[]")
    if expiring_within_days is not None:
        where.append(
            "c.lifecycle = 'active' AND c.end_date >= t.today"
            f" AND c.end_date - t.today <= {param(expiring_within_days)}"
        )
    if like is not None:
        # The same expression as the trigram index contracts_search.
        where.append(f"(c.code || ' ' || c.title) ILIKE {param(like)}")
    if after is not None:
        op = "<" if sort.descending else ">"
        where.append(
            f"({column}, c.id) {op} ({param(after[0])}::{sql_type}, {param(after[1])}::uuid)"
        )
    direction = "DESC" if sort.descending else "ASC"
    return await conn.fetch(
        f"""SELECT {", ".join("c." + c.strip() for c in _CONTRACT_COLUMNS.split(","))}
            FROM contracts c
            CROSS JOIN LATERAL (SELECT ($1::timestamptz AT TIME ZONE c.timezone)::date AS today) t
            WHERE {" AND ".join(where) or "true"}
            ORDER BY {column} {direction}, c.id {direction}
            LIMIT {param(limit)}""",
        *params,
    )


async def contracts_using_card(conn: Connection, card_id: uuid.UUID) -> list[asyncpg.Record]:
    """The contracts that name the card, locked until the transaction ends."""
    return await conn.fetch(
        f"SELECT {_CONTRACT_COLUMNS} FROM contracts WHERE rate_card_id = $1 ORDER BY code "
        "FOR UPDATE",
        card_id,
    )


# ---------------------------------------------------------------------------------------------
# rate cards, calendars and service levels: rows with a name, a version and timestamps


async def _insert(conn: Connection, table: str, row_id: uuid.UUID, values: dict[str, Any]) -> None:
    names = list(values)
    params = ", ".join(f"${i}" for i in range(2, len(names) + 2))
    await conn.execute(
        f"INSERT INTO {table} (id, {', '.join(names)}) VALUES ($1, {params})",
        row_id,
        *(values[n] for n in names),
    )


async def _update(conn: Connection, table: str, row_id: uuid.UUID, values: dict[str, Any]) -> None:
    names = list(values)
    sets = "".join(f"{name} = ${i}, " for i, name in enumerate(names, start=2))
    await conn.execute(
        f"UPDATE {table} SET {sets}version = version + 1, updated_at = now() WHERE id = $1",
        row_id,
        *(values[n] for n in names),
    )


async def name_taken(
    conn: Connection, table: str, name: str, except_id: uuid.UUID | None = None
) -> bool:
    assert table in {"rate_cards", "calendars", "service_levels"}
    return bool(
        await conn.fetchval(
            f"SELECT true FROM {table} WHERE lower(name) = lower($1) AND id IS DISTINCT FROM $2",
            name,
            except_id,
        )
    )


_RATE_CARD_SELECT = """SELECT r.id, r.name, r.description, r.rows, r.version, r.created_at,
           r.updated_at,
           (SELECT count(*) FROM contracts c WHERE c.rate_card_id = r.id)::int AS contracts
    FROM rate_cards r"""


async def insert_rate_card(conn: Connection, card_id: uuid.UUID, values: dict[str, Any]) -> None:
    await _insert(conn, "rate_cards", card_id, values)


async def update_rate_card(conn: Connection, card_id: uuid.UUID, values: dict[str, Any]) -> None:
    await _update(conn, "rate_cards", card_id, values)


async def get_rate_card(
    conn: Connection, card_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    if for_update:
        await conn.execute("SELECT 1 FROM rate_cards WHERE id = $1 FOR UPDATE", card_id)
    return await conn.fetchrow(f"{_RATE_CARD_SELECT} WHERE r.id = $1", card_id)


async def get_rate_cards(conn: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Cards by id (for resolving contracts' rows); ``FOR SHARE`` so a card cannot change
    between resolving a contract's rows and committing the event that carries them."""
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT id, name, rows FROM rate_cards WHERE id = any($1::uuid[]) FOR SHARE",
        list(set(ids)),
    )
    return {r["id"]: r for r in rows}


async def list_rate_cards(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"{_RATE_CARD_SELECT} ORDER BY lower(r.name), r.id")


async def delete_rate_card(conn: Connection, card_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM rate_cards WHERE id = $1", card_id)


_CALENDAR_COLUMNS = """id, name, kind, timezone, hours, holiday_country, holiday_subdivision,
    extra_holidays, ical_holidays, version, created_at, updated_at"""


async def insert_calendar(conn: Connection, calendar_id: uuid.UUID, values: dict[str, Any]) -> None:
    await _insert(conn, "calendars", calendar_id, values)


async def update_calendar(conn: Connection, calendar_id: uuid.UUID, values: dict[str, Any]) -> None:
    await _update(conn, "calendars", calendar_id, values)


async def get_calendar(
    conn: Connection, calendar_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {_CALENDAR_COLUMNS} FROM calendars WHERE id = $1{lock}", calendar_id
    )


async def get_calendars(conn: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    rows = await conn.fetch(
        f"SELECT {_CALENDAR_COLUMNS} FROM calendars WHERE id = any($1::uuid[])", list(set(ids))
    )
    return {r["id"]: r for r in rows}


async def list_calendars(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_CALENDAR_COLUMNS} FROM calendars ORDER BY lower(name), id")


async def calendar_used_by(conn: Connection, calendar_id: uuid.UUID) -> list[str]:
    """The catalogue levels that run on the calendar."""
    rows = await conn.fetch(
        "SELECT name FROM service_levels WHERE calendar_id = $1 ORDER BY name", calendar_id
    )
    return [r["name"] for r in rows]


async def delete_calendar(conn: Connection, calendar_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM calendars WHERE id = $1", calendar_id)


_LEVEL_COLUMNS = """id, name, description, calendar_id, targets, price, currency, price_period,
    at_risk_percents, reopen, priority_change, version, created_at, updated_at"""


async def insert_service_level(
    conn: Connection, level_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await _insert(conn, "service_levels", level_id, values)


async def update_service_level(
    conn: Connection, level_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await _update(conn, "service_levels", level_id, values)


async def get_service_level(
    conn: Connection, level_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {_LEVEL_COLUMNS} FROM service_levels WHERE id = $1{lock}", level_id
    )


async def list_service_levels(conn: Connection) -> list[asyncpg.Record]:
    """The catalogue, cheapest first (levels without a price last)."""
    return await conn.fetch(
        f"SELECT {_LEVEL_COLUMNS} FROM service_levels ORDER BY price NULLS LAST, lower(name), id"
    )


async def delete_service_level(conn: Connection, level_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM service_levels WHERE id = $1", level_id)


async def insert_contract_level(
    conn: Connection, contract_id: uuid.UUID, values: dict[str, Any]
) -> None:
    names = list(values)
    params = ", ".join(f"${i}" for i in range(2, len(names) + 2))
    await conn.execute(
        f"INSERT INTO contract_service_levels (contract_id, {', '.join(names)}) "
        f"VALUES ($1, {params})",
        contract_id,
        *(values[n] for n in names),
    )


async def list_contract_levels(
    conn: Connection, contract_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """The levels of the contracts, each contract's oldest first."""
    if not contract_ids:
        return []
    return await conn.fetch(
        """SELECT contract_id, effective_from, service_level_id, terms, price, currency,
                  price_period
           FROM contract_service_levels WHERE contract_id = any($1::uuid[])
           ORDER BY contract_id, effective_from""",
        list(contract_ids),
    )


# ---------------------------------------------------------------------------------------------
# audit history


async def insert_history(
    conn: Connection,
    aggregate: str,
    aggregate_id: uuid.UUID,
    version: int,
    action: str,
    actor: str,
    changes: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO history (aggregate, aggregate_id, version, action, actor, changes)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        aggregate,
        aggregate_id,
        version,
        action,
        actor,
        changes,
    )


async def has_history(conn: Connection, aggregate: str, aggregate_id: uuid.UUID) -> bool:
    """True for a deleted contract or customer too: its history outlives it."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM history WHERE aggregate = $1 AND aggregate_id = $2 LIMIT 1",
            aggregate,
            aggregate_id,
        )
    )


async def list_history(
    conn: Connection, aggregate: str, aggregate_id: uuid.UUID, after_version: int, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT version, action, actor, at, changes FROM history
           WHERE aggregate = $1 AND aggregate_id = $2 AND version > $3
           ORDER BY version LIMIT $4""",
        aggregate,
        aggregate_id,
        after_version,
        limit,
    )


# ---------------------------------------------------------------------------------------------
# API keys


async def insert_api_key(
    conn: Connection, key_id: uuid.UUID, name: str, key_hash: str, scopes: list[str]
) -> dt.datetime:
    """Store the key's hash; returns its ``created_at``."""
    created_at: dt.datetime = await conn.fetchval(
        """INSERT INTO api_keys (id, name, key_hash, scopes) VALUES ($1, $2, $3, $4)
           RETURNING created_at""",
        key_id,
        name,
        key_hash,
        scopes,
    )
    return created_at


async def list_api_keys(
    conn: Connection, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
) -> list[asyncpg.Record]:
    """One page in (created_at, id) order, ``limit + 1`` rows to tell whether more follow."""
    return await conn.fetch(
        """SELECT id, name, scopes, created_at, revoked_at FROM api_keys
           WHERE $2::timestamptz IS NULL OR (created_at, id) > ($2, $3)
           ORDER BY created_at, id LIMIT $1 + 1""",
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )
