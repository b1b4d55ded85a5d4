"""API keys are issued here and replicated (as hashes) to every other service by events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from burnrate_common import auth, outbox
from burnrate_common.deps import ConnectionDep, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.events import ApiKeyIssued, ApiKeyRevoked, EventType, new_event
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from burnrate_contracts import store

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])
AdminOnly = Annotated[object, Depends(auth.require("admin"))]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1)

    @field_validator("scopes")
    @classmethod
    def _known(cls, scopes: list[str]) -> list[str]:
        unknown = sorted(set(scopes) - auth.SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {sorted(auth.SCOPES)}")
        return sorted(set(scopes))


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class IssuedApiKey(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is stored")


@router.post("", status_code=201, response_model=IssuedApiKey, summary="Issue an API key")
async def issue(body: ApiKeyIn, runtime: RuntimeDep, _: AdminOnly) -> IssuedApiKey:
    key, key_id = auth.new_key(), uuid.uuid4()
    key_hash = auth.hash_key(key)
    event = new_event(
        EventType.APIKEY_ISSUED,
        ApiKeyIssued(id=key_id, name=body.name, key_hash=key_hash, scopes=body.scopes),
        key=key_id,
        producer=runtime.settings.service_name,
    )
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.insert_api_key(conn, key_id, body.name, key_hash, body.scopes)
        await outbox.add(conn, [event])
    return IssuedApiKey(
        id=key_id, name=body.name, scopes=body.scopes, key=key, created_at=dt.datetime.now(dt.UTC)
    )


@router.get("", response_model=list[ApiKeyOut], summary="List API keys (never the keys)")
async def list_keys(conn: ConnectionDep, _: AdminOnly) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(dict(r)) for r in await store.list_api_keys(conn)]


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key everywhere")
async def revoke(key_id: uuid.UUID, runtime: RuntimeDep, _: AdminOnly) -> Response:
    async with runtime.pool.acquire() as conn, conn.transaction():
        if not await auth.revoke_key(conn, key_id):
            raise Problem(404, "Not found", f"No active API key {key_id}.", field="key_id")
        await outbox.add(
            conn,
            [
                new_event(
                    EventType.APIKEY_REVOKED,
                    ApiKeyRevoked(id=key_id),
                    key=key_id,
                    producer=runtime.settings.service_name,
                )
            ],
        )
    return Response(status_code=204)
