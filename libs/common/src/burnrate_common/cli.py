"""The command line every service has: ``serve`` (default), ``migrate``, ``check-config``,
``replay-dead-letters``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable

import uvicorn
from pydantic import ValidationError

from burnrate_common import bus
from burnrate_common.app import create_app
from burnrate_common.logs import configure_logging
from burnrate_common.runtime import ServiceDefinition, migrate


async def _replay(definition: ServiceDefinition) -> int:
    connection = await bus.connect(definition.settings.amqp_url)
    try:
        channel = await connection.channel()
        return await bus.replay_dead_letters(channel, definition.topology)
    finally:
        await connection.close()


def run_cli(build: Callable[[], ServiceDefinition], argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A Burnrate service")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "check-config", "replay-dead-letters"],
    )
    args = parser.parse_args(argv)
    try:
        definition = build()
    except ValidationError as exc:
        print(f"invalid configuration:\n{exc}", file=sys.stderr)
        sys.exit(2)
    settings = definition.settings
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "check-config":
        print(json.dumps(settings.model_dump(mode="json"), indent=2, default=str))
    elif args.command == "migrate":
        applied = asyncio.run(migrate(definition))
        print(json.dumps({"applied": applied}))
    elif args.command == "replay-dead-letters":
        print(json.dumps({"replayed": asyncio.run(_replay(definition))}))
    else:
        uvicorn.run(
            create_app(definition),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
