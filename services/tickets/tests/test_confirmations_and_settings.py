"""Every confirmed ticket closes (not only a source's first); settings come only from
BURNRATE_TICKETS_* variables."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from burnrate_tickets.settings import TicketsSettings

from .conftest import Rig, ams

FORM = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""}


async def test_two_confirmed_tickets_of_one_source_both_close(rig: Rig) -> None:
    contract_id = await rig.add_contract()
    closed = []
    for reference in ("4711", "4712"):
        ticket = await rig.open(contract_id, priority="P2", reference=reference)
        rig.clock.set(ams(2026, 3, 16, 11, 0))
        resolved = await rig.post(ticket["id"], "resolve")
        path = urlsplit(resolved["confirmation_link"]).path
        sent = await rig.api.post(f"{path}/form", content="rating=5&action=confirm", headers=FORM)
        assert sent.status_code == 303
        closed.append((await rig.api.get(f"/v1/tickets/{ticket['id']}")).json()["status_kind"])
    assert closed == ["closed", "closed"]


def test_a_bare_variable_of_another_program_is_not_a_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PUBLIC_URL", "http://evil.example")
    monkeypatch.setenv("CONFIRMATION_DAYS", "1")
    settings = TicketsSettings()
    assert settings.tickets_public_url == "http://127.0.0.1:8007"
    assert settings.confirmation_days == 14
    monkeypatch.setenv("BURNRATE_TICKETS_PUBLIC_URL", "https://tickets.msp.example")
    assert TicketsSettings().tickets_public_url == "https://tickets.msp.example"
    assert TicketsSettings(confirmation_days=3).confirmation_days == 3
