"""The billing and service-level alerts through the services as processes, to a real SMTP
server: the allowance of a billed contract used up by its worklogs — one mail to the
customer naming the charged hour (contracts → worklog-ingest → billing → rules → notifier);
a ticket on a short bespoke 24×7 level — one Dutch at-risk mail to the customer before the
breach (contracts → tickets → rules → notifier)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import httpx
import pytest
from burnrate_devstack.demo import post_until_known
from burnrate_testing import AUTH, eventually

pytestmark = pytest.mark.e2e

AMS = ZoneInfo("Europe/Amsterdam")


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


async def customer_with_contact(client, url, name, address, language) -> dict:
    return await ok(
        await client.post(
            f"{url}/v1/customers",
            json={
                "name": name,
                "contacts": [{"name": "Ann", "email": address, "language": language}],
            },
        ),
        201,
    )


async def rule_for(client, url, contract_id, trigger, **fields) -> dict:
    """Retried while the contract is still on its way to the rules service."""
    body = {
        "name": trigger,
        "contract_id": contract_id,
        "trigger": trigger,
        "audience": {"owner": False, "customer_contacts": True},
    } | fields
    return await ok(await client.post(f"{url}/v1/rules", json=body), 201)


async def test_the_allowance_used_is_one_mail_naming_the_charged_hour(stack, smtp_server):
    urls = {s: stack.url(s) for s in stack.ports}
    suffix = uuid.uuid4().hex[:6].upper()
    address = f"ann-{suffix.lower()}@acme.example"
    today = dt.datetime.now(AMS).date()
    month = today.replace(day=1)
    async with httpx.AsyncClient(headers=AUTH, timeout=30) as client:
        customer = await customer_with_contact(
            client, urls["contracts"], "Acme Dental", address, "en"
        )
        contract = await ok(
            await client.post(
                f"{urls['contracts']}/v1/contracts",
                json={
                    "customer_id": customer["id"],
                    "code": f"AR-{suffix}",
                    "title": "Acme Dental support",
                    "owner_email": "owner@msp.example",
                    "start_date": (month - dt.timedelta(days=40)).replace(day=1).isoformat(),
                    "end_date": (month + dt.timedelta(days=90)).isoformat(),
                    "timezone": "Europe/Amsterdam",
                    "period": "monthly",
                    "planned_hours": 5,
                    "billing": {"base_rate": "50.00", "vat_rate": "0.21"},
                },
            ),
            201,
        )
        await rule_for(client, urls["rules"], contract["id"], "allowance_reached")

        # two 3-hour worklogs two days ago (this month's period or the last one's, both
        # the contract's): 6 h of a 5 h allowance
        day = today - dt.timedelta(days=2)
        worklogs = [
            {
                "source": "api",
                "external_id": f"ar-{suffix}-{n}",
                "contract_id": contract["id"],
                "author": "tech1",
                "team": "servicedesk",
                "activity": "phone support",
                "started_at": dt.datetime.combine(day, dt.time(hour), AMS).isoformat(),
                "seconds": 3 * 3600,
            }
            for n, hour in enumerate((9, 13))
        ]
        await post_until_known(
            client, f"{urls['worklog-ingest']}/v1/worklogs/batch", {"worklogs": worklogs}
        )

        def mails():
            return [m for m in smtp_server.messages if m["To"] == address]

        async def one_mail():
            return mails() or None

        await eventually(one_mail, timeout=60, interval=0.3)
        await asyncio.sleep(3)  # a second mail, if any, would be here by now
        (mail,) = mails()
        text = plain(mail)
        assert "1 additional hour has been charged at €50.00" in text, text
        assert "The 5-hour allowance" in text
        assert "allowance" in mail["Subject"] and "€50.00" in mail["Subject"]
        alerts = await ok(
            await client.get(
                f"{urls['rules']}/v1/alerts",
                params={"contract_id": contract["id"], "trigger": "allowance_reached"},
            )
        )
        assert [(a["charged_hours"], a["charged_amount"]) for a in alerts["items"]] == [
            (1.0, "50.00")
        ]


async def test_a_ticket_at_risk_is_one_dutch_mail_before_the_breach(stack, smtp_server):
    urls = {s: stack.url(s) for s in stack.ports}
    suffix = uuid.uuid4().hex[:6].upper()
    address = f"ann-{suffix.lower()}@acme.example"
    today = dt.datetime.now(dt.UTC).date()
    async with httpx.AsyncClient(headers=AUTH, timeout=30) as client:
        customer = await customer_with_contact(
            client, urls["contracts"], "Acme Dental", address, "nl"
        )
        contract = await ok(
            await client.post(
                f"{urls['contracts']}/v1/contracts",
                json={
                    "customer_id": customer["id"],
                    "code": f"SLA-{suffix}",
                    "title": "Acme Dental: a fast level",
                    "owner_email": "owner@msp.example",
                    "start_date": (today - dt.timedelta(days=31)).isoformat(),
                    "end_date": (today + dt.timedelta(days=365)).isoformat(),
                    "timezone": "Europe/Amsterdam",
                    "planned_hours": 40,
                    "service_levels": [
                        {
                            "effective_from": (today - dt.timedelta(days=1)).isoformat(),
                            "bespoke": {
                                "name": "fast",
                                "targets": [
                                    {
                                        "metric": "resolution",
                                        "priority": "P2",
                                        "minutes": 2,
                                        "calendar": "24x7",
                                    }
                                ],
                                "at_risk_percents": [50],
                            },
                        }
                    ],
                },
            ),
            201,
        )
        await rule_for(client, urls["rules"], contract["id"], "sla_at_risk", stages=[50])

        async def level_known() -> bool:
            response = await client.get(
                f"{urls['tickets']}/v1/service-levels/due",
                params={"contract_id": contract["id"], "priority": "P2"},
            )
            return response.status_code == 200 and response.json()["level"] == "fast"

        await eventually(level_known, timeout=30)
        opened_at = dt.datetime.now(dt.UTC)
        await ok(
            await client.post(
                f"{urls['tickets']}/v1/tickets",
                json={
                    "reference": f"T-{suffix}",
                    "contract_id": contract["id"],
                    "priority": "P2",
                    "opened_at": opened_at.isoformat(),
                },
            ),
            201,
        )
        due_at = opened_at + dt.timedelta(minutes=2)

        def mails():
            return [m for m in smtp_server.messages if m["To"] == address]

        async def one_mail():
            return mails() or None

        await eventually(one_mail, timeout=100, interval=0.3)
        arrived = dt.datetime.now(dt.UTC)
        assert arrived < due_at, f"the warning came at {arrived}, after the breach at {due_at}"
        (mail,) = mails()
        text = plain(mail)
        assert f"Ticket T-{suffix} (P2, fast) wordt niet binnen de afgesproken 2 minuten" in text
        assert "opgelost" in text and "Dit is wat we doen" in text
        local_due = due_at.astimezone(AMS)
        assert f"{local_due:%H:%M}" in text  # the due time, in the contract's zone
        # the breach passes: the at-risk rule says nothing more
        await asyncio.sleep(max((due_at - dt.datetime.now(dt.UTC)).total_seconds(), 0) + 5)
        assert len(mails()) == 1
