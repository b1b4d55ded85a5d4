"""Mappings of the sources' names: a Zendesk organization → a customer."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Path, Response

from burnrate_tickets.api import DepsDep
from burnrate_tickets.auth import TicketsReader, TicketsWriter
from burnrate_tickets.schemas import ZendeskOrganizationIn, ZendeskOrganizationOut
from burnrate_tickets.service import mappings as service

router = APIRouter(prefix="/v1/mappings/zendesk-organizations", tags=["sources"])

OrgId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


@router.put(
    "/{org_id}",
    response_model=ZendeskOrganizationOut,
    responses={201: {"model": ZendeskOrganizationOut, "description": "A new mapping"}},
    summary="Map a Zendesk organization to a customer (201 new, 200 replaced)",
    description="Zendesk tickets of the organization are attributed to the customer's "
    "contract without query parameters; tickets kept for it so far are attributed now.",
)
async def put_mapping(
    org_id: OrgId,
    body: ZendeskOrganizationIn,
    response: Response,
    conn: ConnectionDep,
    deps: DepsDep,
    _: TicketsWriter,
) -> ZendeskOrganizationOut:
    mapping, created = await service.put_zendesk_organization(conn, deps, org_id, body.customer_id)
    response.status_code = 201 if created else 200
    return mapping


@router.get("", response_model=Page[ZendeskOrganizationOut], summary="The mappings")
async def list_mappings(
    conn: ConnectionDep, _: TicketsReader, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[ZendeskOrganizationOut]:
    return await service.list_zendesk_organizations(conn, limit=limit, cursor=cursor)


@router.get("/{org_id}", response_model=ZendeskOrganizationOut, summary="One mapping")
async def get_mapping(
    org_id: OrgId, conn: ConnectionDep, _: TicketsReader
) -> ZendeskOrganizationOut:
    return await service.get_zendesk_organization(conn, org_id)


@router.delete("/{org_id}", status_code=204, summary="Forget a mapping")
async def delete_mapping(org_id: OrgId, conn: ConnectionDep, _: TicketsWriter) -> Response:
    await service.delete_zendesk_organization(conn, org_id)
    return Response(status_code=204)
