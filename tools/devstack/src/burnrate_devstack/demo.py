"""Scenario 1 of the domain, "The 40-hour month", played through the public APIs."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

OWNER = "owner@msp.example"
CUSTOMER_CONTACT = "dana@acme-dental.example"
# 15 worklogs of 4 h = 60 h: 28 h (70 %) after the 7th, 36 h (90 %) after the 9th,
# over 40 h after the 11th. Service desk logs 9 of them (36 h), the field team 6 (24 h).
TEAMS = [
    "servicedesk",
    "field",
    "servicedesk",
    "servicedesk",
    "field",
    "servicedesk",
    "field",
    "servicedesk",
    "field",
    "servicedesk",
    "field",
    "servicedesk",
    "field",
    "servicedesk",
    "servicedesk",
]


@dataclass
class FortyHourMonth:
    customer_id: str
    contract_id: str
    code: str
    rule_id: str
    period: str  # YYYY-MM
    worklog_ids: list[str]


async def _call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    response = await client.request(method, url, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {url} → {response.status_code}: {response.text}")
    return response.json() if response.content else None


async def post_until_known(
    client: httpx.AsyncClient, url: str, body: Mapping[str, Any], timeout: float = 30
) -> Any:
    """POST that waits while the contract has not reached the service's replica yet (422)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.post(url, json=body)
        if response.status_code < 400:
            return response.json()
        if response.status_code != 422 or time.monotonic() > deadline:
            raise RuntimeError(f"POST {url} → {response.status_code}: {response.text}")
        await asyncio.sleep(0.1)


async def play(
    urls: Mapping[str, str],
    api_key: str,
    *,
    pause: float = 0.0,
    today: dt.date | None = None,
    after_worklog: Callable[[int], Awaitable[None]] | None = None,
) -> FortyHourMonth:
    """Create the customer, contract and rule, then log 60 h in 15 worklogs this month."""
    today = today or dt.date.today()
    month_start = today.replace(day=1)
    suffix = uuid.uuid4().hex[:6].upper()
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as client:
        customer = await _call(
            client,
            "POST",
            f"{urls['contracts']}/v1/customers",
            json={
                "name": "Acme Dental",
                "contacts": [
                    {"name": "Dana de Vries", "email": CUSTOMER_CONTACT, "language": "en"}
                ],
            },
        )
        contract = await _call(
            client,
            "POST",
            f"{urls['contracts']}/v1/contracts",
            json={
                "customer_id": customer["id"],
                "code": f"ACME-{suffix}",
                "title": "Acme Dental managed support",
                "owner_email": OWNER,
                "start_date": month_start.replace(month=1).isoformat(),
                "end_date": month_start.replace(month=12, day=31).isoformat(),
                "timezone": "Europe/Amsterdam",
                "period": "monthly",
                "planned_hours": 40,
                "teams": ["servicedesk", "field"],
                "work_accounts": [f"ACME-SUPPORT-{suffix}"],
            },
        )
        rule = await post_until_known(
            client,
            f"{urls['rules']}/v1/rules",
            {
                "name": "40-hour month: 70 %, 90 %, overage",
                "contract_id": contract["id"],
                "trigger": "percent_consumed",
                "stages": [70, 90],
                "overage": True,
                "audience": {"owner": True, "customer_contacts": True},
            },
        )
        worklog_ids = []
        for n, team in enumerate(TEAMS):
            started = dt.datetime.combine(month_start, dt.time(8), dt.UTC) + dt.timedelta(
                hours=5 * n
            )
            worklog = await post_until_known(
                client,
                f"{urls['worklog-ingest']}/v1/worklogs",
                {
                    "source": "api",
                    "external_id": f"demo-{suffix}-{n}",
                    "work_account": f"ACME-SUPPORT-{suffix}",
                    "author": f"tech{n % 3 + 1}@msp.example",
                    "team": team,
                    "activity": "phone support" if team == "servicedesk" else "on-site repair",
                    "started_at": started.isoformat(),
                    "seconds": 4 * 3600,
                    "ticket": f"ACME-{100 + n}",
                },
            )
            worklog_ids.append(worklog["id"])
            if after_worklog is not None:  # the fault tests crash services here
                await after_worklog(n)
            if pause:
                await asyncio.sleep(pause)
    return FortyHourMonth(
        customer["id"],
        contract["id"],
        contract["code"],
        rule["id"],
        month_start.strftime("%Y-%m"),
        worklog_ids,
    )


async def report(urls: Mapping[str, str], api_key: str, played: FortyHourMonth) -> Any:
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as client:
        return await _call(
            client,
            "GET",
            f"{urls['reporting']}/v1/contracts/{played.contract_id}/consumption",
            params={"period": played.period},
        )


async def notifications(urls: Mapping[str, str], api_key: str, played: FortyHourMonth) -> Any:
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as client:
        page = await _call(
            client,
            "GET",
            f"{urls['notifier']}/v1/notifications",
            params={"contract_id": played.contract_id, "limit": 100},
        )
    return page["items"]
