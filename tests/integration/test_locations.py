"""Contracts, worklog-ingest and reporting in one process: the worklogs' locations reach
reporting's consumption, split per contract period and location."""

from __future__ import annotations

import pytest
from burnrate_testing import eventually
from test_across_services import Services, new_contract

pytestmark = pytest.mark.integration


async def test_the_consumption_splits_by_the_worklogs_locations(isolation):
    async with Services(isolation, ("contracts", "ingest", "reporting")) as services:
        contracts, ingest = services.clients["contracts"], services.clients["ingest"]
        reporting = services.clients["reporting"]
        contract = await new_contract(contracts)
        batch = [
            {
                "source": "api",
                "external_id": f"{contract['code']}-loc-{n}",
                "contract_id": contract["id"],
                "author": "tech1",
                "team": "field",
                "activity": "on-site repair",
                "started_at": f"2026-03-{10 + n}T09:00:00+01:00",
                "seconds": seconds,
                **({"location": location} if location else {}),
            }
            for n, (location, seconds) in enumerate(
                [("site A", 3600), ("site A", 1800), ("site B", 7200), (None, 900)]
            )
        ]

        async def accepted() -> bool:
            response = await ingest.post("/v1/worklogs/batch", json={"worklogs": batch})
            return response.status_code == 201

        await eventually(accepted)

        async def split() -> list[tuple[str | None, int, int]]:
            response = await reporting.get(
                f"/v1/contracts/{contract['id']}/consumption", params={"period": "2026-03"}
            )
            body = response.json()
            assert response.status_code == 200 and body["worklog_count"] == 4, response.text
            return [
                (s["location"], s["executed_seconds"], s["worklog_count"])
                for s in body["by_location"]
            ]

        assert await eventually(split, timeout=20) == [
            ("site B", 7200, 1),
            ("site A", 5400, 2),
            (None, 900, 1),
        ]
