"""Balance enquiry: per contract and per customer, what is open, carried, credited, banked
and paid for but not delivered — read off the statements' figures and the invoices."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.types import seconds_to_hours

from burnrate_billing import store
from burnrate_billing.schemas import (
    BankedOut,
    ContractBalanceOut,
    CustomerBalanceOut,
    PeriodBalanceOut,
)
from burnrate_billing.service import Deps
from burnrate_billing.service.compute import as_dict, local_today


def _dec(fig: dict[str, object], name: str) -> Decimal:
    return Decimal(str(fig.get(name, "0")))


async def _contract_balance(
    conn: Connection, deps: Deps, contract: asyncpg.Record
) -> ContractBalanceOut:
    today = local_today(deps, contract["timezone"])
    statements = await store.statements_of(conn, contract["id"])
    invoices = await store.list_invoices(conn, contract_id=contract["id"], customer_id=None)
    open_amount = debt = credits = pnd_value = Decimal(0)
    pnd_seconds = 0
    banked: list[BankedOut] = []
    periods = []
    currency = contract["currency"]
    for s in statements:
        fig = as_dict(s["figures"])
        if not fig:
            continue
        currency = str(fig.get("currency", currency))
        is_open = s["status"] != "invoiced"
        started = s["period_start"] <= today
        ended = s["period_end"] < today
        if is_open and started:
            open_amount += _dec(fig, "subtotal")
        if is_open:
            debt += _dec(fig, "debt_brought_forward")
            credits += _dec(fig, "credits")
        seconds = int(str(fig.get("paid_not_delivered_seconds", 0))) if ended else 0
        value = _dec(fig, "paid_not_delivered_value") if ended else Decimal(0)
        pnd_seconds += seconds
        pnd_value += value
        if started:  # the lots banked after the latest period that has begun
            banked = [
                BankedOut(
                    earned_in=dt.date.fromisoformat(lot["earned_in"]),
                    hours=seconds_to_hours(lot["seconds"]),
                    expires_after=dt.date.fromisoformat(lot["expires_after"])
                    if lot.get("expires_after")
                    else None,
                )
                for lot in fig.get("banked_expiry", [])
            ]
        periods.append(
            PeriodBalanceOut(
                statement_id=s["id"],
                period_start=s["period_start"],
                period_end=s["period_end"],
                status=s["status"],
                open_amount=_dec(fig, "subtotal") if is_open else Decimal("0.00"),
                paid_not_delivered_hours=seconds_to_hours(seconds),
                paid_not_delivered_value=value,
                expired_hours=seconds_to_hours(int(str(fig.get("expired_seconds", 0)))),
            )
        )
    return ContractBalanceOut(
        contract_id=contract["id"],
        customer_id=contract["customer_id"],
        contract_code=contract["code"],
        currency=currency,
        open_amount=open_amount,
        debt_carried=debt,
        credits=credits,
        invoiced_total=sum(
            (i["total"] for i in invoices if i["kind"] == "invoice"), Decimal("0.00")
        ),
        credited_total=sum(
            (i["total"] for i in invoices if i["kind"] == "credit_note"), Decimal("0.00")
        ),
        rollover_banked=banked,
        paid_not_delivered_hours=seconds_to_hours(pnd_seconds),
        paid_not_delivered_value=pnd_value,
        periods=periods,
    )


async def contract_balance(
    conn: Connection, deps: Deps, contract_id: uuid.UUID
) -> ContractBalanceOut:
    contract = await store.get_contract(conn, contract_id)
    if contract is None:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _contract_balance(conn, deps, contract)


async def customer_balance(
    conn: Connection, deps: Deps, customer_id: uuid.UUID
) -> CustomerBalanceOut:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        contracts = await store.contracts_of_customer(conn, customer_id)
        if not contracts:
            raise Problem(
                404,
                "Not found",
                f"No billed contract of customer {customer_id}.",
                field="customer_id",
            )
        balances = [await _contract_balance(conn, deps, c) for c in contracts]
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for b in balances:
        sums["open"][b.currency] += b.open_amount
        sums["debt"][b.currency] += b.debt_carried
        sums["credits"][b.currency] += b.credits
        sums["pnd"][b.currency] += b.paid_not_delivered_value
    return CustomerBalanceOut(
        customer_id=customer_id,
        open_amount=dict(sums["open"]),
        debt_carried=dict(sums["debt"]),
        credits=dict(sums["credits"]),
        paid_not_delivered_value=dict(sums["pnd"]),
        contracts=balances,
    )
