import json

import pytest
from burnrate_common.cli import Command, run_cli
from burnrate_common.runtime import ServiceDefinition
from burnrate_common.settings import ServiceSettings


def build():
    return ServiceDefinition(
        settings=ServiceSettings(service_name="probe"),
        package="burnrate_common",
        title="t",
        deps=None,
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


def test_healthcheck_is_zero_only_when_the_service_answers():
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from burnrate_common.cli import healthcheck

    class Healthz(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert healthcheck(server.server_port) == 0
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        free_port = unused.getsockname()[1]
    assert healthcheck(free_port, timeout=1) == 1
