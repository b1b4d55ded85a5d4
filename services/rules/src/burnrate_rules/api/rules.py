"""Notification rules, their opt-outs and their preview."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query, Response

from burnrate_rules.api import DepsDep
from burnrate_rules.auth import RulesReader, RulesWriter
from burnrate_rules.schemas import OptOutOut, PreviewOut, RuleIn, RuleOut, RulePatch
from burnrate_rules.service import rules as service

router = APIRouter(prefix="/v1/rules", tags=["rules"])


_WAITS_FOR_THE_CONTRACT = (
    "A contract created a moment ago at the contracts service reaches this service through "
    "its `contract.created` event, usually within milliseconds. A {what} naming a contract "
    "not known here yet waits for it, up to `BURNRATE_CONTRACT_WAIT_SECONDS` (5 s by "
    "default), and is then answered as usual; a contract that has not arrived by then is "
    "{refusal}. So a script may create a contract and at once {what_for_it}."
)


@router.post(
    "",
    status_code=201,
    response_model=RuleOut,
    summary="Create a notification rule",
    description=_WAITS_FOR_THE_CONTRACT.format(
        what="rule",
        refusal='a 422 "Unknown contract" naming `contract_id`',
        what_for_it="a rule for it",
    )
    + " At most `BURNRATE_MAX_RULES_PER_CONTRACT` (20) enabled rules apply to one contract "
    "(its own, its customer's and everyone's): a rule that would make more is a 409 "
    '"Too many rules" naming `contract_id` or `customer_id` (create it disabled, or '
    "disable another).",
)
async def create_rule(body: RuleIn, conn: ConnectionDep, deps: DepsDep, _: RulesWriter) -> RuleOut:
    return await service.create_rule(conn, deps, body)


@router.get("", response_model=Page[RuleOut], summary="List notification rules")
async def list_rules(
    conn: ConnectionDep,
    _: RulesReader,
    contract_id: Annotated[
        uuid.UUID | None, Query(description="Only the rules set for this one contract")
    ] = None,
    customer_id: Annotated[
        uuid.UUID | None, Query(description="Only the rules set for this one customer")
    ] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[RuleOut]:
    return await service.list_rules(
        conn, contract_id=contract_id, customer_id=customer_id, limit=limit, cursor=cursor
    )


@router.get("/{rule_id}", response_model=RuleOut, summary="One notification rule")
async def get_rule(rule_id: uuid.UUID, conn: ConnectionDep, _: RulesReader) -> RuleOut:
    return await service.get_rule(conn, rule_id)


@router.patch(
    "/{rule_id}",
    response_model=RuleOut,
    summary="Change a rule: enable or disable it, its stages, its audience, its name",
    description="Enabling a rule that would make more than `BURNRATE_MAX_RULES_PER_CONTRACT` "
    '(20) enabled rules apply to one contract is a 409 "Too many rules" naming `enabled`.',
)
async def patch_rule(
    rule_id: uuid.UUID, body: RulePatch, conn: ConnectionDep, deps: DepsDep, _: RulesWriter
) -> RuleOut:
    return await service.patch_rule(conn, deps, rule_id, body)


@router.put(
    "/{rule_id}/opt-outs/{contract_id}",
    response_model=OptOutOut,
    summary="This contract opts out of a rule for every contract (or for its customer's)",
    description=_WAITS_FOR_THE_CONTRACT.format(
        what="opt-out",
        refusal="a 404 naming `contract_id`",
        what_for_it="its opt-out",
    ),
)
async def put_opt_out(
    rule_id: uuid.UUID, contract_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: RulesWriter
) -> OptOutOut:
    return await service.put_opt_out(conn, deps, rule_id, contract_id)


@router.delete(
    "/{rule_id}/opt-outs/{contract_id}",
    status_code=204,
    summary="The contract follows the rule again",
)
async def delete_opt_out(
    rule_id: uuid.UUID, contract_id: uuid.UUID, conn: ConnectionDep, _: RulesWriter
) -> Response:
    await service.delete_opt_out(conn, rule_id, contract_id)
    return Response(status_code=204)


@router.get(
    "/{rule_id}/opt-outs",
    response_model=Page[OptOutOut],
    summary="The contracts that opted out of a rule",
)
async def list_opt_outs(
    rule_id: uuid.UUID,
    conn: ConnectionDep,
    _: RulesReader,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[OptOutOut]:
    return await service.list_opt_outs(conn, rule_id, limit=limit, cursor=cursor)


@router.post(
    "/{rule_id}/preview",
    response_model=PreviewOut,
    summary="The alerts this rule would raise on today's data, without raising them",
)
async def preview_rule(
    rule_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: RulesReader
) -> PreviewOut:
    return await service.preview_rule(conn, deps, rule_id)
