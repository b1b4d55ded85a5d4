"""Addresses that receive no alert mail (/v1/opt-outs)."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Path, Response
from pydantic import EmailStr

from burnrate_notifier.auth import NotificationsReader, NotificationsWriter
from burnrate_notifier.schemas import OptOutOut
from burnrate_notifier.service import opt_outs

router = APIRouter(prefix="/v1/opt-outs", tags=["opt-outs"])

EmailPath = Annotated[EmailStr, Path(description="The address, compared case-insensitively")]


@router.get("", response_model=Page[OptOutOut], summary="Addresses that opted out")
async def list_opt_outs(
    conn: ConnectionDep, _: NotificationsReader, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[OptOutOut]:
    return await opt_outs.list_opt_outs(conn, limit=limit, cursor=cursor)


@router.put(
    "/{email}",
    response_model=OptOutOut,
    summary="Opt an address out of alert mail",
    responses={
        200: {"description": "The address had opted out already (idempotent)"},
        201: {"model": OptOutOut, "description": "The address is opted out now"},
    },
)
async def put_opt_out(
    email: EmailPath, conn: ConnectionDep, _: NotificationsWriter, response: Response
) -> OptOutOut:
    opt_out, created = await opt_outs.opt_out(conn, str(email))
    response.status_code = 201 if created else 200
    return opt_out


@router.delete("/{email}", status_code=204, summary="Send alert mail to this address again")
async def delete_opt_out(email: EmailPath, conn: ConnectionDep, _: NotificationsWriter) -> Response:
    await opt_outs.remove_opt_out(conn, str(email))
    return Response(status_code=204)
