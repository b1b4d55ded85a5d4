import argparse
import asyncio
import json
from typing import Any

from burnrate_common import db
from burnrate_common.cli import Command, run_cli
from burnrate_common.runtime import ServiceDefinition, migrate
from pydantic import ValidationError

from burnrate_contracts.bootstrap import build
from burnrate_contracts.schemas import ApiKeyIn
from burnrate_contracts.service import Deps
from burnrate_contracts.service.api_keys import issue_api_key


async def _issue(definition: ServiceDefinition[Deps], body: ApiKeyIn) -> dict[str, Any]:
    settings = definition.settings
    await migrate(definition)
    pool = await db.create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            issued = await issue_api_key(conn, definition.deps, body)
    finally:
        await pool.close()
    return issued.model_dump(mode="json")


def _run_issue(definition: ServiceDefinition[Any], args: argparse.Namespace) -> int:
    """The first admin key of an installation (the API needs an admin key to issue one; the
    bootstrap key is for development only): printed once, as JSON; its hash reaches every
    service as the API does it."""
    try:
        body = ApiKeyIn(name=args.name, scopes=args.scope)
    except ValidationError as exc:
        print(f"invalid key: {exc.errors()[0]['msg']}")
        return 2
    print(json.dumps(asyncio.run(_issue(definition, body)), indent=2))
    return 0


def _issue_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="who or what the key is for")
    parser.add_argument(
        "--scope", action="append", required=True, help="a scope (repeat for several): admin, …"
    )


COMMANDS = {
    "issue-api-key": Command(
        help="issue an API key from the command line (the first admin key) and print it once",
        run=_run_issue,
        add_arguments=_issue_arguments,
    )
}


def main() -> None:
    run_cli(build, extra_commands=COMMANDS)


if __name__ == "__main__":
    main()
