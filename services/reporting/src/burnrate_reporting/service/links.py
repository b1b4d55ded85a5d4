"""The customers' report links: signed, expiring, opening one customer's reports."""

from __future__ import annotations

import uuid

from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_reporting.schemas import ReportLink
from burnrate_reporting.service.deps import Deps
from burnrate_reporting.store import reports as store


async def create_report_link(
    conn: Connection, deps: Deps, customer_id: uuid.UUID, expires_in_days: int | None
) -> ReportLink:
    """A link for a known customer; ``expires_in_days`` None: the configured default."""
    if not await store.customer_known(conn, customer_id):
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    url, token, expires_at = deps.settings.customer_report_url(
        customer_id, deps.clock.now(), expires_in_days
    )
    return ReportLink(url=url, token=token, customer_id=customer_id, expires_at=expires_at)
