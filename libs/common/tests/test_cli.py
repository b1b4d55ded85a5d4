import json

import pytest
from burnrate_common.cli import Command, run_cli
from burnrate_common.runtime import ServiceDefinition
from burnrate_common.settings import ServiceSettings


def build():
    return ServiceDefinition(
        settings=ServiceSettings(service_name="probe"), package="burnrate_common", title="t"
    )


def test_a_service_command_gets_its_arguments_and_sets_the_exit_code():
    seen = []

    def run(definition, args):
        seen.append((definition.settings.service_name, args.apply))
        return 3

    command = Command(
        help="h", run=run, add_arguments=lambda p: p.add_argument("--apply", action="store_true")
    )
    with pytest.raises(SystemExit) as exited:
        run_cli(build, ["rebuild", "--apply"], extra_commands={"rebuild": command})
    assert exited.value.code == 3
    assert seen == [("probe", True)]


def test_shared_commands_still_work_and_unknown_ones_are_refused(capsys):
    run_cli(build, ["check-config"])
    assert json.loads(capsys.readouterr().out)["service_name"] == "probe"
    with pytest.raises(SystemExit) as exited:
        run_cli(build, ["rebuild"])
    assert exited.value.code == 2
