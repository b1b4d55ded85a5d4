"""Rate cards: named rows pricing hours by activity, location and shift, used by contracts."""

from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Response

from burnrate_contracts.api import DepsDep
from burnrate_contracts.api.concurrency import IfMatch, set_etag
from burnrate_contracts.auth import ContractsReader, ContractsWriter
from burnrate_contracts.schemas import RateCardIn, RateCardOut, RateCardPatch
from burnrate_contracts.service import rate_cards

router = APIRouter(prefix="/v1/rate-cards", tags=["rate cards"])


def _answer(response: Response, card: RateCardOut) -> RateCardOut:
    set_etag(response, card.version)
    return card


@router.post(
    "",
    status_code=201,
    response_model=RateCardOut,
    summary="Create a rate card",
    description="Rows select hours by activity, location and shift (null: any) and set a "
    "price per hour or modify the base price (replace, add, multiply), each with optional "
    "effective dates. Two rows pricing the same hours on the same day are refused.",
)
async def create_rate_card(
    body: RateCardIn, conn: ConnectionDep, _: ContractsWriter, response: Response
) -> RateCardOut:
    return _answer(response, await rate_cards.create_rate_card(conn, body))


@router.get("", response_model=list[RateCardOut], summary="List rate cards, by name")
async def list_rate_cards(conn: ConnectionDep, _: ContractsReader) -> list[RateCardOut]:
    return await rate_cards.list_rate_cards(conn)


@router.get("/{card_id}", response_model=RateCardOut, summary="One rate card")
async def get_rate_card(
    card_id: uuid.UUID, conn: ConnectionDep, _: ContractsReader, response: Response
) -> RateCardOut:
    return _answer(response, await rate_cards.get_rate_card(conn, card_id))


@router.patch(
    "/{card_id}",
    response_model=RateCardOut,
    summary="Change a rate card (If-Match required)",
    description="Rows are replaced whole (send their ids to keep them). Every contract using "
    "the card is published again (contract.updated) with its rows resolved anew, in the same "
    "transaction; a change one of them does not fit (a row its override replaces, a shift it "
    "lacks) is refused whole with a 409.",
)
async def patch_rate_card(
    card_id: uuid.UUID,
    body: RateCardPatch,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> RateCardOut:
    card = await rate_cards.patch_rate_card(conn, deps, card_id, body, if_match)
    return _answer(response, card)


@router.delete(
    "/{card_id}",
    status_code=204,
    summary="Delete a rate card no contract uses (If-Match optional)",
)
async def delete_rate_card(
    card_id: uuid.UUID, conn: ConnectionDep, _: ContractsWriter, if_match: IfMatch = None
) -> Response:
    await rate_cards.delete_rate_card(conn, card_id, if_match)
    return Response(status_code=204)
