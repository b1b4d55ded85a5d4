from burnrate_common.cli import run_cli

from burnrate_tickets.bootstrap import build


def main() -> None:
    run_cli(build)


if __name__ == "__main__":
    main()
