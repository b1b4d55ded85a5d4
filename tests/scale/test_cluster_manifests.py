"""The RabbitMQ cluster as docker-compose.yml's `cluster` profile and as deploy/k8s/rabbitmq
agree with what docs/operations.md says (no Docker engine or Kubernetes runs them here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_compose_cluster_profile_is_three_nodes_behind_one_alias():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    nodes = {
        name: service
        for name, service in compose["services"].items()
        if "cluster" in service.get("profiles", [])
    }
    assert sorted(nodes) == ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
    conf = (ROOT / "deploy/rabbitmq/cluster.conf").read_text()
    peers = set(re.findall(r"classic_config\.nodes\.\d+ = rabbit@(\S+)", conf))
    assert peers == {service["hostname"] for service in nodes.values()} == set(nodes)
    cookies = {
        service["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] for service in nodes.values()
    }
    assert len(cookies) == 1
    for service in nodes.values():
        assert service["networks"]["default"]["aliases"] == ["rabbitmq-cluster"]
        assert service["environment"]["RABBITMQ_CTL_ERL_ARGS"] in cookies
        mounts = [v for v in service["volumes"] if v.startswith("./deploy/rabbitmq/cluster.conf:")]
        assert mounts, service
    # Without the profile the services still use the single node.
    amqp = compose["x-burnrate-env"]["BURNRATE_AMQP_URL"]
    assert amqp == "${BURNRATE_AMQP_URL:-amqp://guest:guest@rabbitmq:5672/}"


def test_the_kubernetes_cluster_is_three_replicas_kept_two_through_disruptions():
    documents = list(
        yaml.safe_load_all((ROOT / "deploy/k8s/rabbitmq/rabbitmq-cluster.yaml").read_text())
    )
    cluster = next(d for d in documents if d["kind"] == "RabbitmqCluster")
    budget = next(d for d in documents if d["kind"] == "PodDisruptionBudget")
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert cluster["spec"]["replicas"] == 3
    name = cluster["metadata"]["name"]
    assert budget["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}
    assert budget["spec"]["maxUnavailable"] == 1
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/rabbitmq/kustomization.yaml").read_text())
    assert kustomization["resources"] == ["rabbitmq-cluster.yaml"]
    docs = (ROOT / "docs/operations.md").read_text()
    assert f"{name}-default-user" in docs and f"{name}.burnrate.svc" in docs
