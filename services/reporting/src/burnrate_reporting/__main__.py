import argparse
import asyncio
import json
import sys

from burnrate_common.cli import run_cli
from burnrate_common.logs import configure_logging

from burnrate_reporting.bootstrap import build


def _rebuild(argv: list[str]) -> int:
    from burnrate_reporting.rebuild import rebuild

    parser = argparse.ArgumentParser(
        prog="burnrate-reporting rebuild",
        description="Replay the event log into fresh read models and compare them with the "
        "live ones (exit 1 if they differ); --apply replaces the live ones instead.",
    )
    parser.add_argument("--apply", action="store_true")
    args = parser.parse_args(argv)
    definition = build()
    configure_logging(definition.settings.service_name, definition.settings.log_level)
    result = asyncio.run(rebuild(definition, apply=args.apply))
    print(json.dumps(result, indent=2))
    return 1 if any(result.get("differences", {}).values()) else 0


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["rebuild"]:
        sys.exit(_rebuild(argv[1:]))
    run_cli(build, argv)


if __name__ == "__main__":
    main()
