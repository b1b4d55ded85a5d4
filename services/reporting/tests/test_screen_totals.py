"""The screen row's executed seconds (kept by the trigger on `period_totals`, with the refresh
and consumption taking turns per contract), and the tombstones of deleted contracts and
customers — over the real broker and PostgreSQL."""

import asyncio
import datetime as dt
import uuid

import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import (
    ConsumptionLine,
    ContractChanged,
    CustomerChanged,
    EventType,
    new_event,
)
from burnrate_reporting.bootstrap import build
from burnrate_reporting.service.rebuild import rebuild
from burnrate_reporting.settings import ReportingSettings
from burnrate_reporting.store import projections
from burnrate_testing import publish, serve

from .test_screen import UTC, D, H, contract, delta, handled, refresh

pytestmark = pytest.mark.integration


@pytest.fixture
def clock():
    return FixedClock(dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def definition(isolation, clock):
    # The refresh loop runs once at start-up, then only when the test runs it.
    settings = isolation.settings(ReportingSettings, reporting_screen_refresh_seconds=3600)
    return build(settings, clock=clock)


LINE = ConsumptionLine(
    team="servicedesk", activity="phone_support", delta_seconds=H, delta_worklogs=1
)


async def screen_row(conn, contract_id):
    return await conn.fetchrow(
        "SELECT period_start, executed_seconds FROM contract_screen WHERE contract_id = $1",
        contract_id,
    )


async def test_the_row_follows_consumption_and_a_refresh_never_loses_a_concurrent_delta(
    isolation, definition, clock
):
    customer, contract_id = uuid.uuid4(), uuid.uuid4()
    created = contract(
        contract_id, customer, "TOT", start=D(2026, 1, 1), end=D(2026, 12, 31), timezone="UTC"
    )
    async with serve(definition) as api:
        await publish(isolation.amqp_url, isolation.amqp_prefix, created)
        await handled(api, 1)
        # The handler wrote the row at the database's clock; now it is the service's "today".
        assert await refresh(api, clock) == 1
        for event in (
            delta(contract_id, D(2026, 3, 1), 10 * H),
            delta(contract_id, D(2026, 2, 1), H),
        ):
            await publish(isolation.amqp_url, isolation.amqp_prefix, event)
        await handled(api, 3)
        pool = api.app.state.runtime.pool
        async with pool.acquire() as conn:
            # The trigger wrote March's total into the row; February's did not touch it.
            assert tuple(await screen_row(conn, contract_id)) == (D(2026, 3, 1), 10 * H)
        item = (await api.get("/v1/contracts", params={"sort": "-percent"})).json()["items"][0]
        assert (item["current_period"]["executed_hours"], item["status"]) == (10, "active")

        # April begins; a consumer writes April's first total (a new period_totals row, not
        # visible to others) and has not committed when the task refreshes the row.
        clock.set(dt.datetime(2026, 4, 1, 0, 30, tzinfo=UTC))
        async with pool.acquire() as consumer, pool.acquire() as task:
            tx = consumer.transaction()
            await tx.start()
            await projections.add_consumption(consumer, contract_id, D(2026, 4, 1), [LINE])
            # The task skips the contract (never waits on a consumer batch)...
            assert await projections.refresh_due_screen_rows(task, clock.now(), 1000) == 0
            # ...the contract handler's refresh waits for the consumer, then sees its total.
            waiting = asyncio.create_task(
                projections.refresh_screen(task, clock.now(), [contract_id])
            )
            await asyncio.sleep(0.3)
            assert not waiting.done()
            await tx.commit()
            await waiting
            assert tuple(await screen_row(task, contract_id)) == (D(2026, 4, 1), H)

            # The other order: the refresh holds the contract, a consumer writes meanwhile.
            clock.set(dt.datetime(2026, 5, 1, 0, 30, tzinfo=UTC))
            refreshing = task.transaction()
            await refreshing.start()
            await projections.refresh_screen(task, clock.now(), [contract_id])
            writing = asyncio.create_task(
                projections.add_consumption(consumer, contract_id, D(2026, 5, 1), [LINE, LINE])
            )
            await asyncio.sleep(0.3)
            assert not writing.done()
            await refreshing.commit()
            await writing
            assert tuple(await screen_row(task, contract_id)) == (D(2026, 5, 1), 2 * H)
        assert await refresh(api, clock) == 0
        item = (await api.get("/v1/contracts", params={"sort": "executed"})).json()["items"][0]
        assert item["current_period"]["executed_hours"] == 2


def customer_event(customer_id, name, event_type):
    payload = CustomerChanged(id=customer_id, name=name, contacts=[])
    return new_event(event_type, payload, key=customer_id, producer="contracts")


async def test_a_stale_version_does_not_bring_back_a_deleted_contract_or_customer(
    isolation, definition
):
    customer, contract_id = uuid.uuid4(), uuid.uuid4()
    kept_id = uuid.uuid4()
    created = contract(
        contract_id, customer, "GONE", start=D(2026, 1, 1), end=D(2026, 12, 31), timezone="UTC"
    )
    # Built (so timestamped) before the deletion, delivered after it: a retried update.
    stale = contract(
        contract_id,
        customer,
        "GONE",
        start=D(2026, 1, 1),
        end=D(2026, 6, 30),
        timezone="UTC",
        event_type=EventType.CONTRACT_UPDATED,
    )
    kept = contract(
        kept_id, customer, "KEPT", start=D(2026, 1, 1), end=D(2026, 12, 31), timezone="UTC"
    )
    customer_created = customer_event(customer, "Acme", EventType.CUSTOMER_CREATED)
    customer_stale = customer_event(customer, "Acme (old)", EventType.CUSTOMER_UPDATED)
    deleted = new_event(
        EventType.CONTRACT_DELETED,
        ContractChanged.model_validate(created.data),
        key=contract_id,
        producer="contracts",
    )
    customer_deleted = customer_event(customer, "Acme", EventType.CUSTOMER_DELETED)
    assert stale.occurred_at < deleted.occurred_at
    assert customer_stale.occurred_at < customer_deleted.occurred_at
    async with serve(definition) as api:
        for n, event in enumerate(
            [customer_created, created, kept, deleted, stale, customer_deleted, customer_stale],
            start=1,
        ):
            await publish(isolation.amqp_url, isolation.amqp_prefix, event)
            await handled(api, n)
        codes = [i["code"] for i in (await api.get("/v1/contracts")).json()["items"]]
        assert codes == ["KEPT"]
        assert (await api.get(f"/v1/contracts/{contract_id}/report")).status_code == 404
        assert (await api.get(f"/v1/contracts/{kept_id}/report")).status_code == 200
        async with api.app.state.runtime.pool.acquire() as conn:
            assert (
                await conn.fetchval("SELECT count(*) FROM contracts WHERE id = $1", contract_id)
                == 0
            )
            assert await conn.fetchval("SELECT count(*) FROM customers") == 0
            assert await conn.fetchval("SELECT count(*) FROM contract_screen") == 1
        # The customer's name is gone from the screen too (its contract KEPT remains).
        assert (await api.get("/v1/contracts")).json()["items"][0]["customer_name"] is None
        # Replaying the log gives the same tables, tombstones included.
        report = await rebuild(definition)
        assert not any(report["differences"].values()), report
