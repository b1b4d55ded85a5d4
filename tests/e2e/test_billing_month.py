"""Scenario 5 through the services as processes: the contract and its billing terms in
contracts, the worklogs (with their location) in worklog-ingest, the statement read from
billing — 525.00 EUR before VAT; its PDF and the invoice's UBL with the buyer contracts
knows."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import httpx
import pytest
from burnrate_devstack.demo import post_until_known
from burnrate_testing import AUTH, eventually

pytestmark = pytest.mark.e2e

AMS = ZoneInfo("Europe/Amsterdam")
CARD = {
    "name": "Scenario 5",
    "description": "Every activity €50.00/h, night ×1.5",
    "rows": [
        {"id": "all", "mode": "price", "amount": "50.00"},
        {"id": "night", "shift": "night", "mode": "multiply", "amount": "1.5"},
    ],
}
NIGHT = {"name": "night", "weekdays": [1, 2, 3, 4, 5], "start": "22:00", "end": "06:00"}


def first_monday_of_last_month(today: dt.date) -> dt.date:
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return first + dt.timedelta(days=(7 - first.weekday()) % 7)


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def test_scenario5_through_the_services(stack):
    urls = {s: stack.url(s) for s in stack.ports}
    monday = first_monday_of_last_month(dt.datetime.now(AMS).date())
    month = monday.replace(day=1)
    suffix = uuid.uuid4().hex[:6].upper()
    async with httpx.AsyncClient(headers=AUTH, timeout=30) as client:
        customer = await ok(
            await client.post(
                f"{urls['contracts']}/v1/customers",
                json={
                    "name": "Acme Dental",
                    "billing": {
                        "legal_name": "Acme Dental B.V.",
                        "address_lines": ["Keizersgracht 1"],
                        "city": "Amsterdam",
                        "postcode": "1015 AA",
                        "country": "NL",
                        "vat_id": "NL123456789B01",
                        "peppol_endpoint_id": "87654321",
                        "peppol_scheme": "0106",
                    },
                },
            ),
            201,
        )
        card = await ok(await client.post(f"{urls['contracts']}/v1/rate-cards", json=CARD), 201)
        contract = await ok(
            await client.post(
                f"{urls['contracts']}/v1/contracts",
                json={
                    "customer_id": customer["id"],
                    "code": f"S5-{suffix}",
                    "title": "Acme Dental scenario 5",
                    "owner_email": "owner@msp.example",
                    "start_date": month.isoformat(),
                    "end_date": (month + dt.timedelta(days=90)).isoformat(),
                    "timezone": "Europe/Amsterdam",
                    "period": "monthly",
                    "planned_hours": 5,
                    "teams": ["servicedesk", "field"],
                    "billing": {
                        "rate_card_id": card["id"],
                        "shifts": [NIGHT],
                        "vat_rate": "0.21",
                    },
                },
            ),
            201,
        )

        def log(n, day, hour, hours, author, activity, location, ticket):
            start = dt.datetime.combine(monday + dt.timedelta(days=day), dt.time(hour), AMS)
            return {
                "source": "api",
                "external_id": f"s5-{suffix}-{n}",
                "contract_id": contract["id"],
                "author": author,
                "team": "servicedesk" if location == "service desk" else "field",
                "activity": activity,
                "location": location,
                "ticket": ticket,
                "started_at": start.isoformat(),
                "seconds": hours * 3600,
            }

        worklogs = [
            log(1, 0, 9, 3, "tech1", "phone support", "service desk", "149"),
            log(2, 0, 13, 3, "tech1", "phone support", "service desk", "149"),
            log(3, 1, 9, 3, "tech2", "on-site repair", "site A", "123"),
            log(4, 1, 14, 2, "tech2", "preventive maintenance", "site A", "123"),
            log(5, 1, 23, 3, "tech3", "on-site repair", "site B", "232"),
        ]
        await post_until_known(
            client, f"{urls['worklog-ingest']}/v1/worklogs/batch", {"worklogs": worklogs}
        )

        async def statement():
            found = await client.get(
                f"{urls['billing']}/v1/statements",
                params={"contract_id": contract["id"], "period": month.isoformat()[:7]},
            )
            if found.status_code != 200 or not found.json()["items"]:
                return None
            body = (
                await client.get(
                    f"{urls['billing']}/v1/statements/{found.json()['items'][0]['id']}"
                )
            ).json()
            fig = body["figures"]
            return body if fig and fig["billable_hours"] == 14 else None

        body = await eventually(statement, timeout=30, interval=0.2)
        fig = body["figures"]
        assert (fig["allowance_hours"], fig["in_allowance_hours"], fig["charged_hours"]) == (
            5,
            5,
            9,
        )
        assert (fig["subtotal"], fig["vat"], fig["total"]) == ("525.00", "110.25", "635.25")
        charged = [
            (line["person"], line["location"], line["charged_hours"], line["rate"], line["amount"])
            for line in body["lines"]
            if line["charged_hours"]
        ]
        assert charged == [
            ("tech1", "service desk", 1.0, "50.00", "50.00"),
            ("tech2", "site A", 3.0, "50.00", "150.00"),
            ("tech2", "site A", 2.0, "50.00", "100.00"),
            ("tech3", "site B", 3.0, "75.00", "225.00"),
        ]
        pdf = await client.get(f"{urls['billing']}/v1/statements/{body['id']}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")

        # the period is over: review, approve, invoice; the UBL names the buyer
        for step in ("review", "approve", "invoice"):
            moved = await ok(
                await client.post(f"{urls['billing']}/v1/statements/{body['id']}/{step}")
            )
        xml = await client.get(f"{urls['billing']}/v1/invoices/{moved['invoice_id']}/ubl")
        assert xml.status_code == 200, xml.text
        assert b'schemeID="0106">87654321<' in xml.content
        assert b"<cbc:RegistrationName>Acme Dental B.V.</cbc:RegistrationName>" in xml.content
        assert b'<cbc:TaxExclusiveAmount currencyID="EUR">525.00<' in xml.content
