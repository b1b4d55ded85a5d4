"""API keys are issued here and replicated (as hashes) to every other service by events."""

from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Response

from burnrate_contracts.api import DepsDep
from burnrate_contracts.auth import Admin
from burnrate_contracts.schemas import ApiKeyIn, ApiKeyOut, IssuedApiKey
from burnrate_contracts.service import api_keys

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


@router.post("", status_code=201, response_model=IssuedApiKey, summary="Issue an API key")
async def issue(body: ApiKeyIn, conn: ConnectionDep, deps: DepsDep, _: Admin) -> IssuedApiKey:
    return await api_keys.issue_api_key(conn, deps, body)


@router.get("", response_model=Page[ApiKeyOut], summary="List API keys (never the keys), paged")
async def list_keys(
    conn: ConnectionDep, _: Admin, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[ApiKeyOut]:
    return await api_keys.list_api_keys(conn, limit, cursor)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key everywhere")
async def revoke(key_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: Admin) -> Response:
    await api_keys.revoke_api_key(conn, deps, key_id)
    return Response(status_code=204)
