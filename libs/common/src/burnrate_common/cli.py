"""The command line every service has: ``serve`` (default), ``migrate``, ``check-config``,
``replay-dead-letters``, ``healthcheck``, plus any commands of the service's own
(:class:`Command`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from pydantic import ValidationError

from burnrate_common import bus
from burnrate_common.app import create_app
from burnrate_common.logs import configure_logging
from burnrate_common.runtime import ServiceDefinition, migrate


async def _replay(definition: ServiceDefinition[Any]) -> int:
    connection = await bus.connect(definition.settings.amqp_url)
    try:
        channel = await connection.channel()
        return await bus.replay_dead_letters(channel, definition.topology)
    finally:
        await connection.close()


def healthcheck(port: int, timeout: float = 4.0) -> int:
    """0 when the service on this host answers ``/healthz``, else 1 (for a container HEALTHCHECK,
    which has no curl in the slim image)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout):
            return 0
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


@dataclass(frozen=True)
class Command:
    """A command of one service's own, next to the shared ones; ``run`` returns the exit code."""

    help: str
    run: Callable[[ServiceDefinition[Any], argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


BUILTIN_COMMANDS = {
    "serve": "run the API, the consumer and the background loops (default)",
    "migrate": "apply the database migrations and exit",
    "check-config": "validate the settings and print them",
    "replay-dead-letters": "move the dead-lettered messages back into the service queue",
    "healthcheck": "exit 0 when the service on this host answers /healthz (for containers)",
}


def run_cli(
    build: Callable[[], ServiceDefinition[Any]],
    argv: list[str] | None = None,
    extra_commands: Mapping[str, Command] | None = None,
) -> None:
    extra_commands = extra_commands or {}
    parser = argparse.ArgumentParser(description="A Burnrate service")
    commands = parser.add_subparsers(dest="command")
    for name, help_text in BUILTIN_COMMANDS.items():
        commands.add_parser(name, help=help_text)
    for name, command in extra_commands.items():
        command.add_arguments(commands.add_parser(name, help=command.help))
    args = parser.parse_args(argv)
    name = args.command or "serve"
    try:
        definition = build()
    except ValidationError as exc:
        print(f"invalid configuration:\n{exc}", file=sys.stderr)
        sys.exit(2)
    settings = definition.settings
    configure_logging(settings.service_name, settings.log_level)
    if name in extra_commands:
        sys.exit(extra_commands[name].run(definition, args))
    elif name == "check-config":
        print(json.dumps(settings.model_dump(mode="json"), indent=2, default=str))
    elif name == "migrate":
        applied = asyncio.run(migrate(definition))
        print(json.dumps({"applied": applied}))
    elif name == "healthcheck":
        sys.exit(healthcheck(settings.port))
    elif name == "replay-dead-letters":
        print(json.dumps({"replayed": asyncio.run(_replay(definition))}))
    else:
        uvicorn.run(
            create_app(definition),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
