"""The replica of the customers (with their contacts) and contracts that alerts name.

Alerts carry ids only: the contacts' addresses stay in this replica, which can be erased,
rather than travel in ``alert.raised`` to every consumer of that event. Each change carries
the full state; an older state than the one stored is ignored.
"""

from __future__ import annotations

import datetime as dt

from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged, CustomerChanged

from burnrate_notifier import store


async def apply_customer(
    conn: Connection, customer: CustomerChanged, *, source_at: dt.datetime
) -> None:
    """The customer and exactly its contacts, unless a newer state is stored already."""
    async with conn.transaction():
        if await store.upsert_customer(conn, customer.id, customer.name, source_at):
            await store.replace_contacts(
                conn,
                customer.id,
                [(c.id, c.name, str(c.email), c.language) for c in customer.contacts],
            )


async def apply_contract(
    conn: Connection, contract: ContractChanged, *, source_at: dt.datetime
) -> None:
    """The contract as the alert mails need it, unless a newer state is stored already
    (one statement: no transaction of its own needed)."""
    await store.upsert_contract(
        conn,
        contract_id=contract.id,
        customer_id=contract.customer_id,
        code=contract.code,
        title=contract.title,
        owner_email=str(contract.owner_email),
        timezone=contract.timezone,
        source_at=source_at,
        teams=contract.teams,
        end_date=contract.end_date,
        currency=contract.currency,
        overage_rate=contract.overage_rate,
    )
