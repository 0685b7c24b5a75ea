"""Persistent cache, GC, graceful drain, metrics and certificate expiry, as the program declares them."""

from __future__ import annotations

import hashlib
import tomllib
from typing import Any

import pytest
from cryptography import x509

from remote_buildkit.offline.engine import Evaluation
from tests.conftest import run_stack
from tests.program.helpers import pem_certificates, secret_files

ARM = {"name": "arm64", "platform": "linux/arm64"}
PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def _spec(evaluation: Evaluation, builder: str) -> dict[str, Any]:
    spec: dict[str, Any] = evaluation.named(f"buildkitd-{builder}-deployment").inputs["spec"]["template"]["spec"]
    return spec


def _buildkitd(evaluation: Evaluation, builder: str) -> dict[str, Any]:
    (container,) = [c for c in _spec(evaluation, builder)["containers"] if c["name"] == "buildkitd"]
    return dict(container)


def _toml(evaluation: Evaluation, builder: str) -> dict[str, Any]:
    config_map = evaluation.named(f"buildkitd-{builder}-config")
    return tomllib.loads(config_map.inputs["data"]["buildkitd.toml"])


@pytest.fixture(scope="module")
def mixed_cache() -> Evaluation:
    return run_stack(
        {
            "tailscale": {"enabled": False},
            "builders": [
                {**ARM, "cache": {"size": "100Gi", "storageClass": "fast-ssd"}, "terminationGracePeriodSeconds": 1800},
                {"name": "amd64", "platform": "linux/amd64", "maxParallelism": 2},
            ],
        }
    )


def test_pvc_exists_only_when_configured_and_holds_the_state_directory(mixed_cache: Evaluation) -> None:
    (claim,) = mixed_cache.of_type(PVC)
    assert claim.inputs["metadata"]["name"] == "buildkitd-arm64-cache"
    assert claim.inputs["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast-ssd",
        "resources": {"requests": {"storage": "100Gi"}},
    }
    volumes = {v["name"]: v for v in _spec(mixed_cache, "arm64")["volumes"]}
    assert volumes["state"] == {"name": "state", "persistentVolumeClaim": {"claimName": "buildkitd-arm64-cache"}}
    mounts = {m["name"]: m["mountPath"] for m in _buildkitd(mixed_cache, "arm64")["volumeMounts"]}
    assert mounts["state"] == "/home/user/.local/share/buildkit"


def test_without_cache_the_state_is_a_size_limited_empty_dir(mixed_cache: Evaluation) -> None:
    volumes = {v["name"]: v for v in _spec(mixed_cache, "amd64")["volumes"]}
    assert volumes["state"] == {"name": "state", "emptyDir": {"sizeLimit": "20Gi"}}
    assert run_stack({"tailscale": {"enabled": False}}).of_type(PVC) == []


def test_gc_numbers_follow_the_cache_size(mixed_cache: Evaluation) -> None:
    persistent = _toml(mixed_cache, "arm64")["worker"]["oci"]
    ephemeral = _toml(mixed_cache, "amd64")["worker"]["oci"]
    assert persistent["gc"] is True
    assert (persistent["reservedSpace"], persistent["maxUsedSpace"], persistent["minFreeSpace"]) == (
        "10240MiB",
        "81920MiB",
        "20480MiB",
    )
    assert (ephemeral["reservedSpace"], ephemeral["maxUsedSpace"], ephemeral["minFreeSpace"]) == (
        "2048MiB",
        "16384MiB",
        "4096MiB",
    )


def test_max_parallelism_from_cpu_limit_or_config(mixed_cache: Evaluation) -> None:
    assert _toml(mixed_cache, "arm64")["worker"]["oci"]["max-parallelism"] == 4
    assert _toml(mixed_cache, "amd64")["worker"]["oci"]["max-parallelism"] == 2


def test_buildkitd_reads_the_config_map_and_a_change_rolls_the_pod(mixed_cache: Evaluation) -> None:
    container = _buildkitd(mixed_cache, "arm64")
    assert container["args"][:2] == ["--config", "/etc/buildkit/buildkitd.toml"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["config"] == {"name": "config", "mountPath": "/etc/buildkit", "readOnly": True}
    volumes = {v["name"]: v for v in _spec(mixed_cache, "arm64")["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "buildkitd-arm64-config"
    for builder in ("arm64", "amd64"):
        toml_text = mixed_cache.named(f"buildkitd-{builder}-config").inputs["data"]["buildkitd.toml"]
        annotations = mixed_cache.named(f"buildkitd-{builder}-deployment").inputs["spec"]["template"]["metadata"][
            "annotations"
        ]
        assert annotations["remote-buildkit/config-sha256"] == hashlib.sha256(toml_text.encode()).hexdigest()
    arm, amd = (
        mixed_cache.named(f"buildkitd-{b}-deployment").inputs["spec"]["template"]["metadata"]["annotations"]
        for b in ("arm64", "amd64")
    )
    assert arm["remote-buildkit/config-sha256"] != amd["remote-buildkit/config-sha256"]


def test_prestop_drains_within_the_grace_period(mixed_cache: Evaluation) -> None:
    assert _spec(mixed_cache, "arm64")["terminationGracePeriodSeconds"] == 1800
    assert _spec(mixed_cache, "amd64")["terminationGracePeriodSeconds"] == 900
    command = _buildkitd(mixed_cache, "arm64")["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    assert "+ 1780 ))" in command[2]
    assert "buildctl debug histories" in command[2]


def test_debug_listener_never_binds_to_loopback_or_all_addresses(mixed_cache: Evaluation) -> None:
    container = _buildkitd(mixed_cache, "arm64")
    args = container["args"]
    debug_address = args[args.index("--debugaddr") + 1]
    assert debug_address == "tcp://$(POD_IP):6060"
    for forbidden in ("0.0.0.0", "127.0.0.1", "localhost", "[::]"):
        assert forbidden not in debug_address
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    annotations = mixed_cache.named("buildkitd-arm64-deployment").inputs["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "6060"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_metrics_can_be_turned_off() -> None:
    evaluation = run_stack({"tailscale": {"enabled": False}, "metrics": {"enabled": False}})
    container = _buildkitd(evaluation, "arm64")
    assert "--debugaddr" not in container["args"]
    assert [p["name"] for p in container["ports"]] == ["buildkitd"]
    annotations = evaluation.named("buildkitd-arm64-deployment").inputs["spec"]["template"]["metadata"]["annotations"]
    assert not [k for k in annotations if k.startswith("prometheus.io/")]
    policy = evaluation.named("buildkitd-arm64-network-policy")
    assert len(policy.inputs["spec"]["ingress"]) == 1


def test_metrics_port_is_reachable_only_from_the_allowed_namespaces() -> None:
    evaluation = run_stack({"tailscale": {"enabled": False}, "metrics": {"port": 9100, "allowFromNamespaces": ["obs"]}})
    rule = evaluation.named("buildkitd-arm64-network-policy").inputs["spec"]["ingress"][1]
    assert rule["ports"] == [{"port": 9100, "protocol": "TCP"}]
    assert rule["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == ["obs"]


def test_certificates_output_gives_every_expiry(two_builders_no_tailscale: Evaluation) -> None:
    output = two_builders_no_tailscale.outputs["certificates"]
    assert not output.secret
    value = output.value
    assert set(value) == {"root_ca", "intermediate_ca", "servers", "clients"}
    assert set(value["servers"]) == {"arm64", "amd64"}
    assert set(value["clients"]) == {"ci"}
    files = secret_files(two_builders_no_tailscale, "arm64")
    leaf, intermediate = pem_certificates(files["cert.pem"])
    (root,) = pem_certificates(files["ca.pem"])

    def rfc3339(cert: x509.Certificate) -> str:
        return cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")

    assert value["servers"]["arm64"] == rfc3339(leaf)
    assert value["intermediate_ca"] == rfc3339(intermediate)
    assert value["root_ca"] == rfc3339(root)
    (client_leaf, _) = pem_certificates(two_builders_no_tailscale.output("client_bundle")["cert"])
    assert value["clients"]["ci"] == rfc3339(client_leaf)
