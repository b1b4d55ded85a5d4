"""The README's tour of the API, as written, run twice against the services as processes,
then the 40-hour month of ``make demo`` (issue 19: the examples and the demo run in any
order and any number of times).

The tour's bash blocks are taken from README.md and run by bash, with ``localhost:800N``
pointed at the stack's ports and the key variable set to the test's key. Each run must make
its own customer, contract and worklogs (no 409 on a code or a work account the first run
took), and its rule must stay scoped to its customer: the demo's contract then gets exactly
its own six mails (three stages, to the owner and to the customer's contact) and three
alerts. A rule of the tour without a scope would alert and mail the demo's contract too.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest
from burnrate_devstack import demo
from burnrate_devstack.stack import SERVICES
from burnrate_testing import AUTH, TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DEMO_MAILS = {
    (recipient, stage)
    for recipient in (demo.OWNER, demo.CUSTOMER_CONTACT)
    for stage in ("70", "90", "overage")
}


def tour_blocks() -> list[str]:
    """The ```bash blocks of the README's section "A tour of the API", in order."""
    text = README.read_text()
    section = text.split("\n## A tour of the API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 5, "the tour's bash blocks were not found"
    return blocks


def tour_script(ports: dict[str, int]) -> str:
    """The tour as one bash script against the stack: ``localhost:8001`` … ``8007`` become
    the stack's ports, ``K`` carries the test's key; it stops at the first failing command
    and prints the ids it made."""
    by_default_port = {default: service for service, (_, default) in SERVICES.items()}
    script = "\n".join(tour_blocks())

    def port(match: re.Match[str]) -> str:
        return f"127.0.0.1:{ports[by_default_port[int(match.group(1))]]}"

    script, pointed = re.subn(r"\blocalhost:(800[1-7])\b", port, script)
    assert pointed > 10, "the tour should call the services on localhost:800N"
    script, keyed = re.subn(
        r"^K=.*$", f"K='Authorization: Bearer {TEST_API_KEY}'", script, flags=re.MULTILINE
    )
    assert keyed == 1, "the tour should set its key in one variable K"
    return (
        "set -euo pipefail\n"
        + script
        + '\necho "TOUR customer=$customer contract=$contract worklog=$worklog run=$run"\n'
    )


def run_tour(ports: dict[str, int]) -> dict[str, str]:
    done = subprocess.run(
        ["bash", "-c", tour_script(ports)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (
        f"the tour failed ({done.returncode}):\n{done.stderr}\n{done.stdout}"
    )
    # Every answer printed is a success: no problem document (a 409 on the contract code or
    # the work account of an earlier run, a 422 …).
    assert not re.search(r'"status":\s*[45]\d\d', done.stdout), done.stdout
    found = re.search(r"^TOUR (.*)$", done.stdout, flags=re.MULTILINE)
    assert found, done.stdout
    ids = dict(pair.split("=", 1) for pair in found.group(1).split())
    for name in ("customer", "contract", "worklog"):
        assert re.fullmatch(UUID, ids[name]), (name, done.stdout)
    return ids


async def test_the_readme_tour_twice_then_the_demo(stack, smtp_server):
    runs = [await asyncio.to_thread(run_tour, stack.ports) for _ in range(2)]
    assert len({run["contract"] for run in runs}) == 2
    assert len({run["run"] for run in runs}) == 2

    async with httpx.AsyncClient(headers=AUTH, timeout=30) as client:

        async def stages(contract_id: str) -> list[str]:
            answer = await client.get(
                f"{stack.url('rules')}/v1/alerts", params={"contract_id": contract_id}
            )
            assert answer.status_code == 200, answer.text
            return sorted(alert["stage"] for alert in answer.json()["items"])

        # Each run's contract reached 70 % of March (28 of 40 h) and alerted.
        for run in runs:

            async def alerted(contract_id: str = run["contract"]) -> bool:
                return "70" in await stages(contract_id)

            await eventually(alerted, timeout=60, interval=0.2)

        played = await demo.play({s: stack.url(s) for s in stack.ports}, TEST_API_KEY)

        def demo_mails() -> list:
            return [m for m in smtp_server.messages if played.code in str(m["Subject"])]

        async def six_demo_mails() -> bool:
            return len(demo_mails()) >= 6

        await eventually(six_demo_mails, timeout=60, interval=0.2)
        # A mail sent twice, or by another rule, would arrive shortly after the first ones.
        await asyncio.sleep(3)
        received = Counter((str(m["To"]), m["X-Burnrate-Stage"]) for m in demo_mails())
        assert set(received) == DEMO_MAILS, received
        assert all(count == 1 for count in received.values()), received

        # Only the demo's own rule alerted its contract; the tour's rules kept to their customers.
        assert await stages(played.contract_id) == ["70", "90", "overage"]
        alerts = (
            await client.get(
                f"{stack.url('rules')}/v1/alerts", params={"contract_id": played.contract_id}
            )
        ).json()["items"]
        assert {alert["rule_id"] for alert in alerts} == {played.rule_id}
        notifications = await demo.notifications(
            {s: stack.url(s) for s in stack.ports}, TEST_API_KEY, played
        )
        assert sorted(n["state"] for n in notifications) == ["sent"] * 6
        # Each run's rule alerted its own contract, once.
        for run in runs:
            assert await stages(run["contract"]) == ["70"]

    # The tour's mails went to the tour's people only: the owner and Dana, once per run.
    tour_mails = Counter(
        str(m["To"]) for m in smtp_server.messages if played.code not in str(m["Subject"])
    )
    assert tour_mails == {"owner@msp.example": 2, "dana@acme.example": 2}, tour_mails
