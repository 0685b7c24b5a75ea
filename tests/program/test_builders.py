"""The Kubernetes objects the program declares for each builder."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from remote_buildkit.offline.engine import DeclaredResource, Evaluation
from tests.program.helpers import secret_files

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"


def _pod(deployment: DeclaredResource) -> dict[str, Any]:
    template: dict[str, Any] = deployment.inputs["spec"]["template"]
    return template


def _container(deployment: DeclaredResource, name: str = "buildkitd") -> dict[str, Any]:
    containers: list[dict[str, Any]] = _pod(deployment)["spec"]["containers"]
    (container,) = [c for c in containers if c["name"] == name]
    return container


def test_resource_counts(two_builders_no_tailscale: Evaluation) -> None:
    evaluation = two_builders_no_tailscale
    kinds = (NAMESPACE, SECRET, DEPLOYMENT, SERVICE, NETWORK_POLICY, CONFIG_MAP)
    counts = {t: len(evaluation.of_type(t)) for t in kinds}
    assert counts == {NAMESPACE: 1, SECRET: 2, DEPLOYMENT: 2, SERVICE: 2, NETWORK_POLICY: 2, CONFIG_MAP: 2}
    assert len(evaluation.of_type("remote-buildkit:builder:Builder")) == 2
    assert {r.type for r in evaluation.resources} == {
        NAMESPACE,
        SECRET,
        DEPLOYMENT,
        SERVICE,
        NETWORK_POLICY,
        CONFIG_MAP,
        "remote-buildkit:builder:Builder",
        "remote-buildkit:namespace:BuildkitNamespace",
        "remote-buildkit:pki:Pki",
        "tls:index/privateKey:PrivateKey",
        "tls:index/certRequest:CertRequest",
        "tls:index/selfSignedCert:SelfSignedCert",
        "tls:index/locallySignedCert:LocallySignedCert",
    }


def test_namespace_admits_rootless_buildkitd_and_still_warns_on_baseline(two_builders_no_tailscale: Evaluation) -> None:
    (namespace,) = two_builders_no_tailscale.of_type(NAMESPACE)
    metadata = namespace.inputs["metadata"]
    assert metadata["name"] == "buildkit"
    assert metadata["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert metadata["labels"]["pod-security.kubernetes.io/warn"] == "baseline"
    assert metadata["labels"]["pod-security.kubernetes.io/audit"] == "baseline"


@pytest.mark.parametrize(("builder", "arch"), [("arm64", "arm64"), ("amd64", "amd64")])
def test_deployment_is_pinned_to_its_architecture(
    two_builders_no_tailscale: Evaluation, builder: str, arch: str
) -> None:
    deployment = two_builders_no_tailscale.named(f"buildkitd-{builder}-deployment")
    assert deployment.inputs["metadata"]["name"] == f"buildkitd-{builder}"
    assert deployment.inputs["metadata"]["namespace"] == "buildkit"
    assert _pod(deployment)["spec"]["nodeSelector"] == {"kubernetes.io/arch": arch}
    assert deployment.inputs["spec"]["replicas"] == 1
    assert deployment.inputs["spec"]["strategy"] == {"type": "Recreate"}


def test_buildkitd_container_runs_rootless_with_mtls(two_builders_no_tailscale: Evaluation) -> None:
    deployment = two_builders_no_tailscale.named("buildkitd-arm64-deployment")
    container = _container(deployment)
    assert container["image"] == "moby/buildkit:v0.29.0-rootless"
    assert container["args"] == [
        "--config",
        "/etc/buildkit/buildkitd.toml",
        "--debugaddr",
        "tcp://$(POD_IP):6060",
        "--addr",
        "unix:///run/user/1000/buildkit/buildkitd.sock",
        "--addr",
        "tcp://0.0.0.0:1234",
        "--tlscacert",
        "/certs/ca.pem",
        "--tlscert",
        "/certs/cert.pem",
        "--tlskey",
        "/certs/key.pem",
        "--oci-worker-no-process-sandbox",
    ]
    probe = {"exec": {"command": ["buildctl", "debug", "workers"]}}
    assert container["readinessProbe"]["exec"] == probe["exec"]
    assert container["livenessProbe"]["exec"] == probe["exec"]
    context = container["securityContext"]
    assert context["seccompProfile"] == {"type": "Unconfined"}
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    assert context["runAsUser"] == 1000
    assert context["runAsGroup"] == 1000
    assert container["ports"] == [
        {"name": "buildkitd", "containerPort": 1234, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 6060},
    ]


def test_default_resources(two_builders_no_tailscale: Evaluation) -> None:
    container = _container(two_builders_no_tailscale.named("buildkitd-amd64-deployment"))
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "512Mi"},
        "limits": {"cpu": "3.5", "memory": "3Gi"},
    }


def test_cache_is_an_empty_dir_at_the_rootless_state_directory(two_builders_no_tailscale: Evaluation) -> None:
    deployment = two_builders_no_tailscale.named("buildkitd-arm64-deployment")
    volumes = {v["name"]: v for v in _pod(deployment)["spec"]["volumes"]}
    mounts = {m["name"]: m for m in _container(deployment)["volumeMounts"]}
    assert "emptyDir" in volumes["state"]
    assert mounts["state"]["mountPath"] == "/home/user/.local/share/buildkit"
    assert volumes["certs"]["secret"]["secretName"] == "buildkitd-arm64-certs"
    assert mounts["certs"] == {"name": "certs", "mountPath": "/certs", "readOnly": True}


def test_pod_rolls_when_the_server_certificate_changes(two_builders_no_tailscale: Evaluation) -> None:
    for builder in ("arm64", "amd64"):
        deployment = two_builders_no_tailscale.named(f"buildkitd-{builder}-deployment")
        annotation = _pod(deployment)["metadata"]["annotations"]["remote-buildkit/server-cert-sha256"]
        cert = secret_files(two_builders_no_tailscale, builder)["cert.pem"]
        assert annotation == hashlib.sha256(cert.encode()).hexdigest()


def test_builder_pods_hold_no_service_account_token(two_builders_no_tailscale: Evaluation) -> None:
    for deployment in two_builders_no_tailscale.of_type(DEPLOYMENT):
        assert _pod(deployment)["spec"]["automountServiceAccountToken"] is False


def test_cert_secret_is_a_secret_with_buildkits_file_layout(two_builders_no_tailscale: Evaluation) -> None:
    secret = two_builders_no_tailscale.named("buildkitd-arm64-certs")
    assert secret.inputs["metadata"]["name"] == "buildkitd-arm64-certs"
    assert "stringData" in secret.secret_inputs
    files = secret_files(two_builders_no_tailscale, "arm64")
    assert files["ca.pem"] == two_builders_no_tailscale.output("client_bundle")["ca"]
    assert files["cert.pem"].count("BEGIN CERTIFICATE") == 2
    assert "PRIVATE KEY" in files["key.pem"]


def test_service_exposes_the_port_inside_the_cluster(two_builders_no_tailscale: Evaluation) -> None:
    service = two_builders_no_tailscale.named("buildkitd-amd64-service")
    deployment = two_builders_no_tailscale.named("buildkitd-amd64-deployment")
    spec = service.inputs["spec"]
    assert service.inputs["metadata"]["name"] == "buildkitd-amd64"
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"name": "buildkitd", "port": 1234, "targetPort": "buildkitd", "protocol": "TCP"}]
    assert spec["selector"] == deployment.inputs["spec"]["selector"]["matchLabels"]
    assert spec["selector"].items() <= _pod(deployment)["metadata"]["labels"].items()


def test_selectors_of_two_builders_do_not_overlap(two_builders_no_tailscale: Evaluation) -> None:
    selectors = [s.inputs["spec"]["selector"] for s in two_builders_no_tailscale.of_type(SERVICE)]
    assert selectors[0] != selectors[1]


def test_children_belong_to_their_components(two_builders_no_tailscale: Evaluation) -> None:
    evaluation = two_builders_no_tailscale
    component_urns = {r.name: r.urn for r in evaluation.resources if r.type.startswith("remote-buildkit:")}
    for resource in evaluation.resources:
        if resource.type.startswith("remote-buildkit:"):
            continue
        owners = [name for name, urn in component_urns.items() if urn == resource.parent_urn]
        assert len(owners) == 1, resource.name
        assert resource.name.startswith(f"{owners[0]}-"), resource.name


def test_components_register_no_props(two_builders_no_tailscale: Evaluation) -> None:
    components = [r for r in two_builders_no_tailscale.resources if r.type.startswith("remote-buildkit:")]
    assert len(components) == 4
    for component in components:
        assert component.inputs == {}, component.name


def test_tolerations_and_custom_node_selector_reach_the_pod(run: Callable[[dict[str, Any]], Evaluation]) -> None:
    evaluation = run(
        {
            "tailscale": {"enabled": False},
            "builders": [
                {
                    "name": "pi",
                    "platform": "linux/arm64",
                    "nodeSelector": {"kubernetes.io/arch": "arm64", "node.example.com/pool": "spare"},
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ci", "effect": "NoSchedule"}],
                    "resources": {"limits": {"cpu": 2, "memory": "4Gi"}},
                }
            ],
        }
    )
    deployment = evaluation.named("buildkitd-pi-deployment")
    spec = _pod(deployment)["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "arm64", "node.example.com/pool": "spare"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "ci", "effect": "NoSchedule"}]
    assert _container(deployment)["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}


def test_network_policy_admits_only_the_builder_port(two_builders_no_tailscale: Evaluation) -> None:
    policy = two_builders_no_tailscale.named("buildkitd-arm64-network-policy")
    deployment = two_builders_no_tailscale.named("buildkitd-arm64-deployment")
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"] == deployment.inputs["spec"]["selector"]["matchLabels"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["ingress"][0] == {"ports": [{"port": 1234, "protocol": "TCP"}]}
    assert spec["ingress"][1] == {
        "ports": [{"port": 6060, "protocol": "TCP"}],
        "from": [
            {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring"]}
                    ]
                }
            }
        ],
    }
    assert len(spec["ingress"]) == 2


def test_buildkitd_drops_net_raw_and_always_pulls(two_builders_no_tailscale: Evaluation) -> None:
    container = _container(two_builders_no_tailscale.named("buildkitd-arm64-deployment"))
    assert container["securityContext"]["capabilities"] == {"drop": ["NET_RAW"]}
    assert container["imagePullPolicy"] == "Always"
