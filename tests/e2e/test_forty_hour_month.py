"""Scenario 1, "The 40-hour month", through all five services as processes.

Also the fault test: a service is SIGKILLed while the worklogs stream in and restarted;
totals stay exact and no alert or e-mail is lost or sent twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from burnrate_devstack import demo
from burnrate_testing import AUTH, TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

EXPECTED_MAILS = {
    (recipient, stage)
    for recipient in (demo.OWNER, demo.CUSTOMER_CONTACT)
    for stage in ("70", "90", "overage")
}


def urls(stack):
    return {service: stack.url(service) for service in stack.ports}


async def assert_forty_hour_month_outcome(stack, smtp_server, played):
    async def six_mails():
        return len(smtp_server.messages) >= 6

    await eventually(six_mails, timeout=60, interval=0.2)
    # Anything sent twice would arrive shortly after the first copies.
    await asyncio.sleep(3)
    received = Counter((str(m["To"]), m["X-Burnrate-Stage"]) for m in smtp_server.messages)
    assert set(received) == EXPECTED_MAILS
    assert all(count == 1 for count in received.values()), received
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 6
    for message in smtp_server.messages:
        assert played.code in str(message["Subject"])
        assert message.get_body(preferencelist=("plain",)) is not None
        assert message.get_body(preferencelist=("html",)) is not None

    async def report_complete():
        report = await demo.report(urls(stack), TEST_API_KEY, played)
        return report if report["executed_hours"] == 60 else None

    report = await eventually(report_complete, timeout=30, interval=0.2)
    assert report["planned_hours"] == 40
    assert report["executed_hours"] == 60
    assert report["overage_hours"] == 20
    assert report["remaining_hours"] == 0
    assert {t["team"]: t["executed_hours"] for t in report["by_team"]} == {
        "field": 24,
        "servicedesk": 36,
    }

    async with httpx.AsyncClient(headers=AUTH) as client:
        alerts = (
            await client.get(
                f"{stack.url('rules')}/v1/alerts", params={"contract_id": played.contract_id}
            )
        ).json()["items"]
        sent = await demo.notifications(urls(stack), TEST_API_KEY, played)
    assert sorted(a["stage"] for a in alerts) == ["70", "90", "overage"]
    assert sorted(n["state"] for n in sent) == ["sent"] * 6


async def test_the_forty_hour_month(stack, smtp_server):
    played = await demo.play(urls(stack), TEST_API_KEY)
    await assert_forty_hour_month_outcome(stack, smtp_server, played)

    # The stage alerts name the executed hours at the moment each stage was crossed.
    executed = sorted(
        (m["X-Burnrate-Stage"], m.get_body(preferencelist=("plain",)).get_content())
        for m in smtp_server.messages
        if str(m["To"]) == demo.OWNER
    )
    assert "28" in executed[0][1] and "36" in executed[1][1] and "44" in executed[2][1]


@pytest.mark.parametrize("victim", ["rules", "notifier", "worklog-ingest", "reporting"])
async def test_a_service_killed_mid_month_loses_nothing_and_sends_nothing_twice(
    stack, smtp_server, victim
):
    async def crash_and_restart(n: int) -> None:
        if n == 3:
            stack.kill(victim)
            if victim == "worklog-ingest":  # the API itself: back before the next worklog
                stack.start(victim)
                await stack.wait_ready(victim)
        if n == 8 and victim != "worklog-ingest":
            stack.start(victim)
        if n == 11:
            stack.kill(victim)
            stack.start(victim)
            await stack.wait_ready(victim)

    played = await demo.play(urls(stack), TEST_API_KEY, after_worklog=crash_and_restart)
    await assert_forty_hour_month_outcome(stack, smtp_server, played)
