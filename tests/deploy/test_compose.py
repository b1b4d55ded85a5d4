"""docker-compose.yml, deploy/Dockerfile and deploy/k8s agree with the code (no Docker engine
or cluster needed).

The machines the tests run on may have no Docker engine, so these checks stand in for
`docker compose config`, a build and `kubectl apply`: every service of the stack
(``burnrate_devstack.stack.SERVICES``) is built from the one Dockerfile with a SERVICE that
exists, on a stage that exists, listens where compose publishes it, and runs on Kubernetes
like the others; each service builds (its ``check-config``) from the environment compose
gives it and from the one the ConfigMap and the Secret template give it in production; and
the Secret template holds every secret setting the services' settings classes declare.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from burnrate_common.settings import PER_SERVICE_FIELDS, ServiceSettings, service_variable
from burnrate_devstack.stack import SERVICES, port_variable
from pydantic import AliasChoices, SecretStr

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def k8s(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def configmap() -> dict[str, str]:
    return k8s("configmap.yaml")[0]["data"]


def secret_template() -> dict[str, str]:
    return k8s("secret.example.yaml")[0]["stringData"]


def dockerfile_stages() -> set[str]:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    return set(re.findall(r"^FROM \S+ AS (\S+)$", text, flags=re.MULTILINE))


def package(service: str) -> str:
    return SERVICES[service][0]


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{package(service)}.settings")
    return next(
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    )


def variables(cls: type[ServiceSettings], field: str) -> list[str]:
    """The environment variables a setting is read from, as the services document them."""
    alias = cls.model_fields[field].validation_alias
    if isinstance(alias, str):
        return [alias.upper()]
    if isinstance(alias, AliasChoices):
        return [
            c.upper() for c in alias.choices if isinstance(c, str) and c.startswith("BURNRATE_")
        ]
    return [f"BURNRATE_{field.upper()}"]


def is_secret(cls: type[ServiceSettings], field: str) -> bool:
    annotation = cls.model_fields[field].annotation
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


def every_variable() -> set[str]:
    names = set()
    for service in SERVICES:
        cls = settings_class(service)
        for field in cls.model_fields:
            names.update(variables(cls, field))
        names.update(service_variable(service, field) for field in PER_SERVICE_FIELDS)
    return names


def build(service: str) -> Any:
    """What ``burnrate-<service> check-config`` does: the composition root, settings and all."""
    return importlib.import_module(f"{package(service)}.bootstrap").build()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No BURNRATE_* of the test run (the pytest plugin sets a link secret) leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("BURNRATE_"):
            monkeypatch.delenv(name)
    yield monkeypatch


# --- docker-compose.yml and the Dockerfile ---------------------------------------------


def test_every_service_is_built_from_the_one_dockerfile_on_an_existing_stage():
    stages = dockerfile_stages()
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    services = compose()["services"]
    for name in SERVICES:
        assert name in services, f"{name} is not in docker-compose.yml"
        build_ = services[name]["build"]
        assert build_["dockerfile"] == "deploy/Dockerfile"
        assert build_["args"]["SERVICE"] == name
        assert (ROOT / "services" / name / "pyproject.toml").exists()
        assert build_["target"] in stages
        # uv resolves the workspace from every member's pyproject.toml.
        assert f"COPY services/{name}/pyproject.toml services/{name}/" in dockerfile
    # Only reporting carries the pages' npm assets.
    assert services["reporting"]["build"]["target"] == "reporting"
    assert services["rules"]["build"]["target"] == "service"
    ports = sorted(port for _, port in SERVICES.values())
    assert f"EXPOSE {ports[0]}-{ports[-1]}" in dockerfile


def test_each_service_listens_where_compose_publishes_it():
    for name in SERVICES:
        field = settings_class(name).model_fields["port"]
        env = compose()["services"][name]["environment"]
        assert field.validation_alias == port_variable(name)
        port = int(env[field.validation_alias])
        assert port == field.default == SERVICES[name][1]
        assert f"{port}:{port}" in compose()["services"][name]["ports"]


def test_the_image_command_names_a_console_script_of_every_service():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert 'ln -s "burnrate-${SERVICE}" /app/.venv/bin/burnrate-service' in text
    for name in SERVICES:
        pyproject = (ROOT / "services" / name / "pyproject.toml").read_text()
        assert f'burnrate-{name} = "' in pyproject


def test_prometheus_scrapes_every_service():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "burnrate")
    targets = {t["labels"]["service"]: t["targets"] for t in job["static_configs"]}
    assert targets == {name: [f"{name}:{port}"] for name, (_, port) in SERVICES.items()}


def compose_value(value: object) -> str:
    """A compose value with ``${NAME:-default}`` as it is when NAME is unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(value))


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_builds_from_the_environment_compose_gives_it(service, clean_environment):
    for name, value in compose()["services"][service]["environment"].items():
        clean_environment.setenv(name, compose_value(value))
    assert build(service).settings.port == SERVICES[service][1]


def test_the_services_that_sign_or_check_links_share_one_secret_in_compose():
    shared = compose()["x-burnrate-env"]
    assert "BURNRATE_REPORT_LINK_SECRET" in shared
    for name in SERVICES:
        env = compose()["services"][name]["environment"]
        assert env["BURNRATE_REPORT_LINK_SECRET"] == shared["BURNRATE_REPORT_LINK_SECRET"]


# --- deploy/k8s ----------------------------------------------------------------------------


def test_every_service_runs_on_kubernetes_like_the_others():
    kustomization = k8s("kustomization.yaml")[0]
    images = {image["name"] for image in kustomization["images"]}
    job = k8s("migrate-job.yaml")[0]["spec"]["template"]["spec"]["containers"]
    migrations = {c["name"]: c for c in job}
    for name, (_, port) in SERVICES.items():
        assert f"{name}.yaml" in kustomization["resources"], name
        assert f"burnrate/{name}" in images, name
        deployment, service = k8s(f"{name}.yaml")
        assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
        assert deployment["metadata"]["name"] == service["metadata"]["name"] == name
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        (container,) = pod["spec"]["containers"]
        assert container["image"].startswith(f"burnrate/{name}:")
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["env"] == [{"name": port_variable(name), "value": str(port)}]
        assert {"configMapRef": {"name": "burnrate-config"}} in container["envFrom"]
        assert {"secretRef": {"name": "burnrate-secrets"}} in container["envFrom"]
        assert service["spec"]["ports"][0]["port"] == port
        assert migrations[name]["command"] == [f"burnrate-{name}", "migrate"]
        assert migrations[name]["image"] == container["image"]


def test_the_secret_template_holds_every_secret_setting():
    secrets = secret_template()
    declared = {
        variable
        for service in SERVICES
        for field in settings_class(service).model_fields
        if is_secret(settings_class(service), field) and field != "bootstrap_api_key"
        for variable in variables(settings_class(service), field)
    }
    # The URLs carry the database's and the broker's passwords.
    declared |= {"BURNRATE_DATABASE_URL", "BURNRATE_AMQP_URL"}
    assert {
        "BURNRATE_REPORT_LINK_SECRET",
        "BURNRATE_SMTP_PASSWORD",
        "BURNRATE_WEBHOOK_SECRET",
        "BURNRATE_JIRA_WEBHOOK_SECRET",
        "BURNRATE_TICKETS_JSM_WEBHOOK_SECRET",
        "BURNRATE_TICKETS_ZENDESK_WEBHOOK_SECRET",
    } <= declared
    assert declared <= set(secrets), declared - set(secrets)
    assert "BURNRATE_BOOTSTRAP_API_KEY" not in secrets
    assert not declared & set(configmap()), "secrets belong in the Secret, not the ConfigMap"


def test_the_configmap_and_the_secret_set_only_settings_the_services_read():
    known = every_variable()
    for name in [*configmap(), *secret_template()]:
        assert name in known, f"{name}: no service reads it"
    assert not set(configmap()) & set(secret_template())


@pytest.mark.parametrize("service", list(SERVICES))
def test_without_the_secret_production_asks_only_for_what_the_template_holds(
    service, clean_environment
):
    """What a service refuses to start without in production, it names; the template has it."""
    for name, value in configmap().items():
        clean_environment.setenv(name, value)
    try:
        settings_class(service)()
    except ValueError as error:
        missing = set(re.findall(r"BURNRATE_[A-Z_]+", str(error)))
        assert missing, str(error)
        assert missing <= set(secret_template()), missing


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_builds_in_production_from_the_configmap_and_the_secret(
    service, clean_environment
):
    """``burnrate-<service> check-config`` in a pod: the SMTP settings for port 587 need
    STARTTLS with credentials, the link signers need the link secret."""
    for name, value in {**configmap(), **secret_template()}.items():
        clean_environment.setenv(name, value)
    clean_environment.setenv(port_variable(service), str(SERVICES[service][1]))
    settings = build(service).settings
    assert settings.environment == "production"
    assert settings.bootstrap_api_key is None


def test_the_notifier_refuses_smtp_credentials_without_starttls_in_production(
    clean_environment,
):
    for name, value in {**configmap(), **secret_template()}.items():
        clean_environment.setenv(name, value)
    assert configmap()["BURNRATE_SMTP_PORT"] == "587"
    assert configmap()["BURNRATE_SMTP_STARTTLS"] == "true"
    clean_environment.delenv("BURNRATE_SMTP_STARTTLS")
    with pytest.raises(ValueError, match="STARTTLS or TLS"):
        settings_class("notifier")()
