"""The first admin key of an installation comes from the command line, printed once."""

import asyncio
import json

import pytest
from burnrate_contracts.__main__ import COMMANDS
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import serve

pytestmark = pytest.mark.integration


async def test_a_key_issued_on_the_command_line_opens_the_api(isolation, capsys):
    settings = isolation.settings(ContractsSettings, bootstrap_api_key=None)
    definition = build(settings)
    parser_args = type("Args", (), {"name": "first admin", "scope": ["admin"]})()
    code = await asyncio.to_thread(COMMANDS["issue-api-key"].run, definition, parser_args)
    assert code == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["scopes"] == ["admin"] and issued["key"].startswith("br_")
    async with serve(build(settings)) as client:
        answer = await client.get(
            "/v1/api-keys", headers={"Authorization": f"Bearer {issued['key']}"}
        )
        assert answer.status_code == 200, answer.text
        keys = answer.json()
        keys = keys["items"] if isinstance(keys, dict) else keys
        assert [k["name"] for k in keys if k["id"] == issued["id"]] == ["first admin"]
        refused = await client.get("/v1/api-keys", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401


def test_an_unknown_scope_is_refused_with_a_clear_line(isolation, capsys):
    settings = isolation.settings(ContractsSettings)
    parser_args = type("Args", (), {"name": "x", "scope": ["everything"]})()
    assert COMMANDS["issue-api-key"].run(build(settings), parser_args) == 2
    assert "unknown scopes" in capsys.readouterr().out
