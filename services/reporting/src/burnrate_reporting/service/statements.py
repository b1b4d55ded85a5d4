"""Billing's statements beside reporting's hours, per contract period, and the quarterly
review: one statement per customer with hours (planned, executed, overage, billed) and the
service levels (targets met) side by side."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.figures import Figures
from burnrate_common.types import seconds_to_hours

from burnrate_reporting.domain import compliance as cp
from burnrate_reporting.schemas import (
    Amount,
    ContractStatements,
    CustomerReview,
    ReviewContract,
    ReviewHours,
    StatementPeriod,
)
from burnrate_reporting.service import service_levels as sl
from burnrate_reporting.service.deps import Deps
from burnrate_reporting.service.reports import month_window
from burnrate_reporting.store import billing as store
from burnrate_reporting.store import reports as report_store
from burnrate_reporting.store import sla as sla_store


def _hours(seconds: int | None) -> Decimal | None:
    return None if seconds is None else seconds_to_hours(seconds)


def statement_period(row: asyncpg.Record, code: str, currency: str) -> StatementPeriod:
    figures = Figures(row["planned_seconds"], row["executed_seconds"])
    return StatementPeriod(
        contract_id=row["contract_id"],
        contract_code=code,
        period_start=row["start_date"],
        period_end=row["end_date"],
        planned_hours=seconds_to_hours(figures.planned_seconds),
        executed_hours=seconds_to_hours(figures.executed_seconds),
        overage_hours=seconds_to_hours(figures.overage_seconds),
        statement_id=row["statement_id"],
        statement_status=row["status"],
        currency=row["currency"] or currency,
        charged_hours=_hours(row["charged_seconds"]),
        charged_amount=row["charged_amount"],
        subtotal=row["subtotal"],
        billed_amount=row["billed"],
        invoices=list(row["numbers"] or []),
        sent_at=row["sent_at"],
        approved_at=row["approved_at"],
    )


async def contract_statements(
    conn: Connection,
    deps: Deps,
    contract_id: uuid.UUID,
    first: str | None,
    last: str | None,
    *,
    restrict_to: uuid.UUID | None = None,
) -> ContractStatements:
    """Per period starting in the months ``first`` to ``last`` (default: the 12 up to this
    one): planned, executed, overage, and the statement with what was billed."""
    now = deps.clock.now()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        contract = await report_store.get_contract(conn, contract_id, now)
        if contract is None or (restrict_to is not None and contract["customer_id"] != restrict_to):
            raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
        start, end = month_window(first, last, contract["local_today"])
        terms = await report_store.get_contract_terms(conn, contract_id)
        rows = await store.contract_periods_billed(conn, [contract_id], start, end)
    currency = terms["currency"] if terms else "EUR"
    return ContractStatements(
        contract_id=contract_id,
        customer_id=contract["customer_id"],
        code=contract["code"],
        title=contract["title"],
        first_day=start,
        last_day=end,
        periods=[statement_period(r, contract["code"], currency) for r in rows],
    )


def _amounts(pairs: Iterable[tuple[str, Decimal]]) -> list[Amount]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in pairs:
        sums[currency] += amount
    return [Amount(currency=c, amount=a) for c, a in sorted(sums.items())]


def review_hours(periods: list[StatementPeriod]) -> ReviewHours:
    return ReviewHours(
        planned_hours=sum((p.planned_hours for p in periods), Decimal(0)),
        executed_hours=sum((p.executed_hours for p in periods), Decimal(0)),
        overage_hours=sum((p.overage_hours for p in periods), Decimal(0)),
        billed=_amounts(
            (p.currency, p.billed_amount) for p in periods if p.billed_amount is not None
        ),
        not_yet_billed=_amounts(
            (p.currency, p.subtotal)
            for p in periods
            if p.billed_amount is None and p.subtotal is not None
        ),
    )


def quarter_window(quarter: str | None, today: dt.date) -> dt.date:
    """The first day of ``quarter`` (YYYY-Qn; default: today's)."""
    if quarter is None:
        return cp.bucket_start(today, "quarter")
    try:
        return cp.parse_quarter(quarter)
    except ValueError as exc:
        raise Problem(422, "Invalid quarter", str(exc), field="quarter") from exc


async def customer_review(
    conn: Connection, deps: Deps, customer_id: uuid.UUID, quarter: str | None
) -> CustomerReview:
    """The quarterly review of one customer: the contract periods starting in the quarter
    (hours and billing) and the tickets opened in it (service levels), per contract and in
    total."""
    now = deps.clock.now()
    today = now.date()
    start = quarter_window(quarter, today)
    after = cp.next_bucket(start, "quarter")
    end = after - dt.timedelta(days=1)
    before = cp.bucket_start(start - dt.timedelta(days=1), "quarter")
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if not await report_store.customer_known(conn, customer_id):
            raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
        name = await report_store.customer_name(conn, customer_id)
        contracts = await sla_store.contracts_with_levels(
            conn, contract_id=None, customer_id=customer_id
        )
        currencies = {
            c["id"]: c["currency"] for c in await store.customer_contracts(conn, customer_id)
        }
        rows = await store.contract_periods_billed(conn, [c["id"] for c in contracts], start, end)
        tickets = await sl.load_tickets(
            conn, contract_id=None, customer_id=customer_id, first=start, last=end
        )
    result = cp.compliance(tickets, "quarter", start, end)
    periods_of: dict[uuid.UUID, list[StatementPeriod]] = defaultdict(list)
    codes = {c["id"]: c["code"] for c in contracts}
    for r in rows:
        periods_of[r["contract_id"]].append(
            statement_period(r, codes[r["contract_id"]], currencies.get(r["contract_id"], "EUR"))
        )
    tickets_of: dict[uuid.UUID, list[cp.Ticket]] = defaultdict(list)
    for t in tickets:
        tickets_of[t.contract_id].append(t)
    levels = [sl.contract_levels(c, now) for c in contracts]
    in_force = {lv.contract_id: lv.in_force for lv in levels}
    review_contracts = []
    for c in contracts:
        own = cp.compliance(tickets_of.get(c["id"], []), "quarter", start, end)
        names = sorted({g.level for g in own.groups})
        level_now = in_force.get(c["id"])
        if not names and level_now is not None:
            names = [level_now.level]
        review_contracts.append(
            ReviewContract(
                contract_id=c["id"],
                code=c["code"],
                title=c["title"],
                levels=names,
                hours=review_hours(periods_of.get(c["id"], [])),
                periods=periods_of.get(c["id"], []),
                service=sl.totals_out(own.groups),
                breaches=len(own.breaches),
            )
        )
    every_period = [p for ps in periods_of.values() for p in ps]
    return CustomerReview(
        customer_id=customer_id,
        customer_name=name,
        quarter=cp.bucket_label(start, "quarter"),
        first_day=start,
        last_day=end,
        previous_quarter=cp.bucket_label(before, "quarter"),
        next_quarter=cp.bucket_label(after, "quarter"),
        today=today,
        contracts=review_contracts,
        hours=review_hours(every_period),
        service=sl.totals_out(result.groups),
        rows=sl.rows_out(result, "quarter"),
        breaches=sl.breaches_out(result),
        levels=levels,
    )
