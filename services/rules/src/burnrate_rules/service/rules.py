"""Notification rules: create, change, list, opt a contract out, and preview what a rule
would raise today."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.events import Trigger
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import seconds_to_hours
from burnrate_common.webhook_urls import InvalidWebhookUrl, parse_webhook_url

from burnrate_rules import store
from burnrate_rules.domain.rules import stages_problem
from burnrate_rules.schemas import (
    AudienceIn,
    OptOutOut,
    PreviewAlertOut,
    PreviewOut,
    RuleIn,
    RuleOut,
    RulePatch,
    SkippedContractOut,
)
from burnrate_rules.service import Deps, evaluation
from burnrate_rules.service.alerts import optional_hours
from burnrate_rules.settings import RulesSettings


def _out(row: asyncpg.Record) -> RuleOut:
    return RuleOut.model_validate(dict(row))


def check_webhook(settings: RulesSettings, audience: AudienceIn | None) -> None:
    """Webhooks outside development must use https (plain http is for a local receiver);
    the form of the URL was checked by the model, with the notifier's parser."""
    url = audience.webhook_url if audience else None
    if not url or settings.environment == "development":
        return
    try:
        parse_webhook_url(url, require_https=True)
    except InvalidWebhookUrl as exc:
        raise Problem(
            422,
            "Invalid input",
            f"audience.webhook_url: {exc} (webhooks use https outside development)",
            field="audience.webhook_url",
        ) from exc


async def _rule_or_404(
    conn: Connection, rule_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await store.get_rule(conn, rule_id, for_update=for_update)
    if row is None:
        raise Problem(404, "Not found", f"No rule {rule_id}.", field="rule_id")
    return row


async def check_rule_count(
    conn: Connection,
    settings: RulesSettings,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    field: str,
) -> None:
    """Refuse (409, naming ``field``) one more enabled rule in this scope when a contract in
    it has ``max_rules_per_contract`` enabled rules applying to it already. Call it in the
    transaction that adds the rule."""
    await store.lock_rule_count(conn)
    crowded = await store.most_rules_applying(conn, contract_id, customer_id)
    cap = settings.max_rules_per_contract
    if crowded is not None and crowded[1] >= cap:
        raise Problem(
            409,
            "Too many rules",
            f"{field}: {crowded[1]} enabled rules apply to contract {crowded[0]} already, "
            f"at most {cap} may (BURNRATE_MAX_RULES_PER_CONTRACT): disable one, or keep this "
            "rule disabled",
            field=field,
            limit=cap,
        )


#: How often the replica is asked again while waiting for a contract (it is one index probe).
_CONTRACT_POLL_SECONDS = 0.02


async def wait_for_contract(conn: Connection, contract_id: uuid.UUID, seconds: float) -> bool:
    """Read your own writes: whether the contract is in the replica, asking again until it
    is or ``seconds`` have passed. Outside any transaction, so each probe sees the commits
    of the consumer that applies ``contract.created``."""
    deadline = time.monotonic() + seconds
    while not await store.contract_exists(conn, contract_id):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(_CONTRACT_POLL_SECONDS, left))
    return True


async def create_rule(conn: Connection, deps: Deps, rule: RuleIn) -> RuleOut:
    """A rule for a contract not replicated yet waits for it (``contract_wait_seconds``);
    then the foreign key decides: 422 "Unknown contract" if it never came."""
    check_webhook(deps.settings, rule.audience)
    if rule.contract_id is not None:
        await wait_for_contract(conn, rule.contract_id, deps.settings.contract_wait_seconds)
    try:
        async with conn.transaction():
            if rule.enabled:
                await check_rule_count(
                    conn,
                    deps.settings,
                    rule.contract_id,
                    rule.customer_id,
                    "customer_id" if rule.customer_id else "contract_id",
                )
            row = await store.insert_rule(
                conn,
                {
                    "id": uuid.uuid4(),
                    **rule.model_dump(mode="json"),
                    "contract_id": rule.contract_id,
                    "customer_id": rule.customer_id,
                },
            )
            # The daily clock looks at the rule's contracts again today.
            await store.rearm_clock(conn, rule.contract_id, rule.customer_id)
    except asyncpg.ForeignKeyViolationError as exc:
        raise Problem(
            422, "Unknown contract", f"No contract {rule.contract_id}.", field="contract_id"
        ) from exc
    return _out(row)


async def list_rules(
    conn: Connection,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[RuleOut]:
    rows = await store.list_rules(conn, decode_cursor(cursor), limit, contract_id, customer_id)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)


async def get_rule(conn: Connection, rule_id: uuid.UUID) -> RuleOut:
    return _out(await _rule_or_404(conn, rule_id))


async def patch_rule(conn: Connection, deps: Deps, rule_id: uuid.UUID, patch: RulePatch) -> RuleOut:
    for name in patch.model_fields_set:
        if getattr(patch, name) is None:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    check_webhook(deps.settings, patch.audience)
    async with conn.transaction():
        rule = await _rule_or_404(conn, rule_id, for_update=True)
        trigger = Trigger(rule["trigger"])
        changes: dict[str, Any] = patch.model_dump(mode="json", exclude_unset=True)
        if patch.audience is not None:  # replaced as a whole, defaults included
            changes["audience"] = patch.audience.model_dump(mode="json")
        if patch.stages is not None:
            problem = stages_problem(trigger, patch.stages)
            if problem:
                raise Problem(422, "Invalid input", f"stages: {problem}", field="stages")
        if patch.overage and trigger != Trigger.PERCENT_CONSUMED:
            raise Problem(
                422,
                "Invalid input",
                "overage: only percent_consumed rules take overage; use the overage trigger",
                field="overage",
            )
        if patch.enabled and not rule["enabled"]:
            await check_rule_count(
                conn, deps.settings, rule["contract_id"], rule["customer_id"], "enabled"
            )
        row = await store.update_rule(conn, rule_id, changes)
        # Stages already fired stay fired; a new or re-enabled stage fires at the next
        # consumption or clock tick, which looks at the rule's contracts again today.
        await store.rearm_clock(conn, rule["contract_id"], rule["customer_id"])
    return _out(row)


# --- opt-outs --------------------------------------------------------------------------


async def put_opt_out(
    conn: Connection, deps: Deps, rule_id: uuid.UUID, contract_id: uuid.UUID
) -> OptOutOut:
    """Idempotent. Only a shared rule (every contract's, or a customer's) is opted out of. A
    contract not replicated yet is waited for, like a rule's (``contract_wait_seconds``)."""
    rule = await _rule_or_404(conn, rule_id)
    if rule["contract_id"] is not None:  # a rule's scope never changes
        raise Problem(
            422,
            "Not a shared rule",
            "This rule is set for one contract; disable it instead (PATCH enabled=false).",
            field="rule_id",
        )
    await wait_for_contract(conn, contract_id, deps.settings.contract_wait_seconds)
    try:
        async with conn.transaction():
            row = await store.put_opt_out(conn, rule_id, contract_id)
    except asyncpg.ForeignKeyViolationError as exc:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id") from exc
    return OptOutOut.model_validate(dict(row))


async def delete_opt_out(conn: Connection, rule_id: uuid.UUID, contract_id: uuid.UUID) -> None:
    """The contract follows the rule again; the daily clock looks at it again today."""
    async with conn.transaction():
        await _rule_or_404(conn, rule_id)
        if await store.delete_opt_out(conn, rule_id, contract_id):
            await store.rearm_clock(conn, contract_id, None)


async def list_opt_outs(
    conn: Connection, rule_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[OptOutOut]:
    await _rule_or_404(conn, rule_id)
    rows = await store.list_opt_outs(conn, rule_id, decode_cursor(cursor), limit)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["contract_id"])
        if len(rows) == limit
        else None
    )
    return Page(items=[OptOutOut.model_validate(dict(r)) for r in rows], next_cursor=next_cursor)


# --- preview ---------------------------------------------------------------------------


async def preview_rule(conn: Connection, deps: Deps, rule_id: uuid.UUID) -> PreviewOut:
    """What the daily clock would raise for this rule now (enabled or not), raising nothing."""
    settings = deps.settings
    now = deps.clock.now()
    rule = await _rule_or_404(conn, rule_id)
    # A contract whose local day cannot be computed (a zone Python does not know) is
    # skipped with the reason, as the daily clock sets it aside: never a 500 for all.
    skipped: list[SkippedContractOut] = []
    local: list[tuple[asyncpg.Record, dt.date]] = []
    for contract in await store.contracts_in_scope(
        conn, rule_id, rule["contract_id"], rule["customer_id"]
    ):
        try:
            local.append((contract, now.astimezone(ZoneInfo(contract["timezone"])).date()))
        except Exception as exc:
            skipped.append(SkippedContractOut(contract_id=contract["id"], reason=_reason(exc)))
    contracts = [c for c, _ in local]
    days = [day for _, day in local]
    ids = [c["id"] for c in contracts]
    periods: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for p in await store.periods_around(conn, ids, days, settings.clock_catch_up_days):
        periods.setdefault(p["contract_id"], []).append(p)
    fired: dict[uuid.UUID, dict[tuple[uuid.UUID, dt.date], set[str]]] = {}
    for (cid, start), stages in (await store.fired_stages_of_rule(conn, rule_id, ids)).items():
        fired.setdefault(cid, {})[(rule_id, start)] = stages
    items = []
    evaluated = 0
    for contract in contracts:
        try:
            candidates = evaluation.plan(
                "clock",
                contract,
                periods.get(contract["id"], []),
                [rule],
                now,
                fired.get(contract["id"], {}),
                settings.forecast_min_elapsed_percent,
            )
        except Exception as exc:
            skipped.append(SkippedContractOut(contract_id=contract["id"], reason=_reason(exc)))
            continue
        evaluated += 1
        for c in candidates:
            facts = c.due.facts
            items.append(
                PreviewAlertOut(
                    contract_id=contract["id"],
                    customer_id=contract["customer_id"],
                    period_start=c.period["period_start"],
                    period_end=c.period["period_end"],
                    trigger=c.due.trigger,
                    stage=c.due.stage,
                    stages=list(c.due.stages),
                    planned_hours=seconds_to_hours(c.period["planned_seconds"]),
                    executed_hours=seconds_to_hours(c.period["executed_seconds"]),
                    days_before_end=facts.days_before_end,
                    forecast_hours=optional_hours(facts.forecast_seconds),
                    forecast_exhaustion_date=facts.forecast_exhaustion_date,
                    unused_hours=optional_hours(facts.unused_seconds),
                    outside_dates_hours=optional_hours(facts.outside_dates_seconds),
                    currency=facts.currency,
                    charged_hours=optional_hours(facts.charged_seconds),
                    charged_amount=facts.charged_amount,
                    forecast_amount=facts.forecast_amount,
                    budget=facts.budget,
                )
            )
    return PreviewOut(
        rule_id=rule_id,
        evaluated_at=now,
        contracts_evaluated=evaluated,
        items=items,
        contracts_skipped=skipped,
    )


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
