"""docker-compose.yml and deploy/Dockerfile agree with the code (no Docker engine needed).

The machines the tests run on may have no Docker engine, so these checks stand in for
`docker compose config` and a build: every service is built from the one Dockerfile with a
SERVICE that exists, on a stage that exists, and listens where compose publishes it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["contracts", "worklog-ingest", "rules", "notifier", "reporting"]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_stages() -> set[str]:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    return set(re.findall(r"^FROM \S+ AS (\S+)$", text, flags=re.MULTILINE))


def test_every_service_is_built_from_the_one_dockerfile_on_an_existing_stage():
    stages = dockerfile_stages()
    for name in SERVICES:
        build = compose()["services"][name]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile"
        assert build["args"]["SERVICE"] == name
        assert (ROOT / "services" / name / "pyproject.toml").exists()
        assert build["target"] in stages
    # Only reporting carries the pages' npm assets.
    assert compose()["services"]["reporting"]["build"]["target"] == "reporting"
    assert compose()["services"]["rules"]["build"]["target"] == "service"


def test_each_service_listens_where_compose_publishes_it():
    for name in SERVICES:
        package = "burnrate_" + name.replace("-", "_")
        settings_class = next(
            value
            for value in vars(importlib.import_module(f"{package}.settings")).values()
            if isinstance(value, type) and value.__module__ == f"{package}.settings"
        )
        field = settings_class.model_fields["port"]
        env = compose()["services"][name]["environment"]
        port = int(env[field.validation_alias])
        assert port == field.default
        assert f"{port}:{port}" in compose()["services"][name]["ports"]


def test_the_image_command_names_a_console_script_of_every_service():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert 'ln -s "burnrate-${SERVICE}" /app/.venv/bin/burnrate-service' in text
    for name in SERVICES:
        pyproject = (ROOT / "services" / name / "pyproject.toml").read_text()
        assert f'burnrate-{name} = "' in pyproject
