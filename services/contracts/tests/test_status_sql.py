"""``store.STATUS_SQL`` (the list's status filter) against the shared status table, run by the
real PostgreSQL: the SQL twin of ``burnrate_common.contract_status.derive_status``."""

import datetime as dt

import asyncpg
import pytest
from burnrate_contracts import store
from burnrate_testing import CONTRACT_STATUS_CASES

pytestmark = pytest.mark.integration

#: Contracts does not know the consumption, so never says exhausted: its cases are the
#: table's rows without it.
CASES = [case for case in CONTRACT_STATUS_CASES if not case[5]]


@pytest.mark.parametrize(("lifecycle", "start", "end", "today", "window", "_", "expected"), CASES)
async def test_status_sql_agrees_with_the_shared_table(
    postgres_server_url: str,
    lifecycle: str,
    start: dt.date,
    end: dt.date,
    today: dt.date,
    window: int,
    _: bool,
    expected: str,
) -> None:
    conn = await asyncpg.connect(postgres_server_url)
    try:
        status = await conn.fetchval(
            f"""SELECT {store.STATUS_SQL.format(window="$5")}
                FROM (SELECT $1::text AS lifecycle, $2::date AS start_date,
                             $3::date AS end_date) c,
                     (SELECT $4::date AS today) t""",
            lifecycle,
            start,
            end,
            today,
            window,
        )
    finally:
        await conn.close()
    assert status == expected


def test_the_table_keeps_cases_for_contracts() -> None:
    assert {case[6] for case in CASES} == {
        "draft",
        "closed",
        "not_started",
        "active",
        "expiring",
        "expired",
    }
