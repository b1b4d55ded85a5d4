"""``burnrate-dev``: run the local stack, the SMTP sink, or the demo; write the AsyncAPI document."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from burnrate_common.db import ensure_database
from burnrate_common.settings import ServiceSettings

from burnrate_devstack import asyncapi, chaos, demo
from burnrate_devstack.stack import SERVICES, Stack

DEV_API_KEY = "dev-admin-key"
#: So Jira webhooks can be tried locally (signed with it, see docs/worklog-ingest.md).
DEV_JIRA_SECRET = "dev-jira-secret"  # noqa: S105 - the local stack only, like DEV_API_KEY
#: Signs the customer report links and the unsubscribe links (reporting and notifier share it).


def _link_secret(var: Path) -> str:
    """The installation's secret for signed customer links (reports, statements, ticket
    confirmations, unsubscribe): ``BURNRATE_REPORT_LINK_SECRET``, or one generated on the
    first ``make run`` and kept in ``var/`` so links stay valid across restarts."""
    given = os.environ.get("BURNRATE_REPORT_LINK_SECRET")
    if given:
        return given
    path = var / "report-link-secret"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _settings_env(var: Path) -> dict[str, str]:
    env = {
        "BURNRATE_REPORT_LINK_SECRET": _link_secret(var),
        "BURNRATE_BOOTSTRAP_API_KEY": os.environ.get("BURNRATE_BOOTSTRAP_API_KEY", DEV_API_KEY),
        "BURNRATE_SMTP_HOST": os.environ.get("BURNRATE_SMTP_HOST", "127.0.0.1"),
        "BURNRATE_SMTP_PORT": os.environ.get("BURNRATE_SMTP_PORT", "1025"),
        "BURNRATE_JIRA_WEBHOOK_SECRET": os.environ.get(
            "BURNRATE_JIRA_WEBHOOK_SECRET", DEV_JIRA_SECRET
        ),
    }
    return env


async def _up(args: argparse.Namespace) -> None:
    env = _settings_env(Path(args.var))
    await ensure_database(ServiceSettings().database_url)
    stack = Stack(env=env, log_dir=Path(args.var) / "log")
    mail_folder = Path(args.var) / "mail"
    if not args.no_smtp_sink:
        stack.start_process(
            "smtp-sink",
            [
                "-m",
                "burnrate_devstack.smtp_sink",
                "--folder",
                str(mail_folder),
                "--smtp-port",
                env["BURNRATE_SMTP_PORT"],
                "--web-port",
                str(args.mail_web_port),
            ],
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start_all()
        print("\nBurnrate is running (Ctrl-C stops it):\n")
        for service in SERVICES:
            print(f"  {service:<15} {stack.url(service)}/docs")
        if not args.no_smtp_sink:
            print(
                f"  {'mail':<15} http://127.0.0.1:{args.mail_web_port}/  (files in {mail_folder.resolve()})"
            )
        print(f"  {'logs':<15} {(Path(args.var) / 'log').resolve()}")
        print(f"\n  API key (development): {env['BURNRATE_BOOTSTRAP_API_KEY']}")
        print(f"  Jira webhook secret:   {env['BURNRATE_JIRA_WEBHOOK_SECRET']}")
        print("  Play the 40-hour month:  make demo\n", flush=True)
        while not stop.is_set():
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see its log", file=sys.stderr)
                    stop.set()
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except TimeoutError:
                pass
    finally:
        stack.stop_all()


async def _demo(args: argparse.Namespace) -> None:
    urls = {s: f"http://127.0.0.1:{p}" for s, (_, p) in SERVICES.items()}
    key = os.environ.get("BURNRATE_BOOTSTRAP_API_KEY", DEV_API_KEY)
    played = await demo.play(urls, key, pause=args.pause)
    print(f"Contract {played.code}: 15 worklogs of 4 h logged in {played.period}.")
    deadline = time.monotonic() + 30
    while True:
        report = await demo.report(urls, key, played)
        sent = [n for n in await demo.notifications(urls, key, played) if n["state"] == "sent"]
        if (report["executed_hours"] == 60 and len(sent) == 6) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    print(
        f"Report: planned {report['planned_hours']} h, executed {report['executed_hours']} h, "
        f"overage {report['overage_hours']} h; by team: "
        + ", ".join(f"{t['team']} {t['executed_hours']} h" for t in report["by_team"])
    )
    print(f"E-mails sent: {len(sent)}")
    for n in sorted(sent, key=lambda n: n["created_at"]):
        print(f"  to {n['recipient']:<28} {n['subject']}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="burnrate-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the SMTP sink and the seven services")
    up.add_argument("--var", default="var", help="folder for logs and received mail")
    up.add_argument("--mail-web-port", type=int, default=8025)
    up.add_argument("--no-smtp-sink", action="store_true", help="use your own SMTP server")
    play = commands.add_parser("demo", help="play the 40-hour month against a running stack")
    play.add_argument("--pause", type=float, default=0.3, help="seconds between worklogs")
    events = commands.add_parser(
        "asyncapi", help="write the AsyncAPI document of every event, from the code"
    )
    events.add_argument("--output", type=Path, default=asyncapi.DEFAULT_PATH)
    events.add_argument(
        "--check", action="store_true", help="write nothing; fail if the file is not up to date"
    )
    fault = commands.add_parser(
        "chaos",
        help="the fault run on a PostgreSQL and a RabbitMQ of its own (see docs/operations.md)",
    )
    fault.add_argument("--short", action="store_true", help="the few-minute variant CI runs")
    fault.add_argument("--seed", type=int, default=None, help="replay a fault schedule")
    fault.add_argument("--keep", type=Path, default=None, help="folder for the services' logs")
    args = parser.parse_args()
    if args.command == "asyncapi":
        sys.exit(asyncapi.run(args.output, check=args.check))
    if args.command == "chaos":
        sys.exit(chaos.main_with(short=args.short, seed=args.seed, keep=args.keep))
    asyncio.run(_up(args) if args.command == "up" else _demo(args))


if __name__ == "__main__":
    main()
