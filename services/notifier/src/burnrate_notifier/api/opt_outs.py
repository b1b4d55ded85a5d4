"""Per-address opt-out: an opted-out address receives no alert mail (recorded as suppressed)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated

from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, EmailStr

from burnrate_notifier import store

router = APIRouter(prefix="/v1/opt-outs", tags=["opt-outs"])

Reader = Annotated[object, Depends(require("notifications:read"))]
Writer = Annotated[object, Depends(require("notifications:write"))]
EmailPath = Annotated[EmailStr, Path(description="The address, compared case-insensitively")]


class OptOutOut(BaseModel):
    email: str
    created_at: dt.datetime


def _encode(email: str) -> str:
    return base64.urlsafe_b64encode(email.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc


@router.get("", response_model=Page[OptOutOut], summary="Addresses that opted out")
async def list_opt_outs(
    conn: ConnectionDep, _: Reader, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[OptOutOut]:
    rows = await store.list_opt_outs(conn, _decode(cursor), limit)
    return Page(
        items=[OptOutOut.model_validate(dict(r)) for r in rows],
        next_cursor=_encode(rows[-1]["email"]) if len(rows) == limit else None,
    )


@router.put("/{email}", response_model=OptOutOut, summary="Opt an address out of alert mail")
async def put_opt_out(
    email: EmailPath, conn: ConnectionDep, _: Writer, response: Response
) -> OptOutOut:
    async with conn.transaction():
        row, created = await store.add_opt_out(conn, str(email))
        await store.suppress_pending_mail(conn, str(email))
    response.status_code = 201 if created else 200
    return OptOutOut.model_validate(dict(row))


@router.delete("/{email}", status_code=204, summary="Send alert mail to this address again")
async def delete_opt_out(email: EmailPath, conn: ConnectionDep, _: Writer) -> Response:
    if not await store.remove_opt_out(conn, str(email)):
        raise Problem(404, "Not found", f"{email} has not opted out.", field="email")
    return Response(status_code=204)
