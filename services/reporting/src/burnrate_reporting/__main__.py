import argparse
import asyncio
import json
from typing import Any

from burnrate_common.cli import Command, run_cli
from burnrate_common.runtime import ServiceDefinition

from burnrate_reporting.bootstrap import build


def _rebuild(definition: ServiceDefinition[Any], args: argparse.Namespace) -> int:
    from burnrate_reporting.service.rebuild import rebuild

    result = asyncio.run(rebuild(definition, apply=args.apply))
    print(json.dumps(result, indent=2))
    return 1 if any(result.get("differences", {}).values()) else 0


def _rebuild_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true")


REBUILD = Command(
    help="replay the event log into fresh read models and compare them with the live ones "
    "(exit 1 if they differ); --apply replaces the live ones instead",
    run=_rebuild,
    add_arguments=_rebuild_arguments,
)


def main() -> None:
    run_cli(build, extra_commands={"rebuild": REBUILD})


if __name__ == "__main__":
    main()
