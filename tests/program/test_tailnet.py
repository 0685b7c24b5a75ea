"""Tailnet access: keys, the sidecar, its narrow RBAC, and mTLS under tailnet names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from remote_buildkit.offline.engine import DeclaredResource, Evaluation
from tests.conftest import TWO_BUILDERS, run_stack
from tests.program.helpers import builder_entry, handshake_with_builder, host_of

TAILNET_KEY = "tailscale:index/tailnetKey:TailnetKey"
TAILSCALE_KINDS = (
    TAILNET_KEY,
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
)


@pytest.fixture(scope="module")
def default_stack() -> Evaluation:
    """No config at all: one arm64 builder, Tailscale on."""
    return run_stack({})


@pytest.fixture(scope="module")
def two_builders() -> Evaluation:
    return run_stack({"builders": TWO_BUILDERS})


def _pod_spec(evaluation: Evaluation, builder: str) -> dict[str, Any]:
    spec: dict[str, Any] = evaluation.named(f"buildkitd-{builder}-deployment").inputs["spec"]["template"]["spec"]
    return spec


def _container(evaluation: Evaluation, builder: str, name: str) -> dict[str, Any]:
    spec = _pod_spec(evaluation, builder)
    (container,) = [c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name]
    return dict(container)


def _key(evaluation: Evaluation, name: str) -> DeclaredResource:
    return evaluation.named(f"tailnet-{name}")


def test_default_builder_address_is_the_tailnet_hostname(default_stack: Evaluation) -> None:
    assert default_stack.output("builder_address") == "tcp://buildkitd-arm64:1234"


def test_both_keys_are_ephemeral_reusable_preauthorized_and_tagged(default_stack: Evaluation) -> None:
    keys = {r.name: r.inputs for r in default_stack.of_type(TAILNET_KEY)}
    assert set(keys) == {"tailnet-builders", "tailnet-ci"}
    for inputs in keys.values():
        assert inputs["ephemeral"] is True
        assert inputs["reusable"] is True
        assert inputs["preauthorized"] is True
        assert inputs["recreateIfInvalid"] == "always"
        assert inputs["expiry"] == 90 * 24 * 3600
        assert inputs["description"]
    assert keys["tailnet-builders"]["tags"] == ["tag:buildkit"]
    assert keys["tailnet-ci"]["tags"] == ["tag:ci"]


def test_ci_key_output_is_the_ci_key_and_secret(default_stack: Evaluation) -> None:
    output = default_stack.outputs["tailscale_ci_auth_key"]
    assert output.secret
    assert output.value == _key(default_stack, "ci").outputs["key"]
    assert output.value != _key(default_stack, "builders").outputs["key"]
    assert "key" in _key(default_stack, "ci").additional_secret_outputs


def test_custom_tags_reach_the_keys() -> None:
    evaluation = run_stack({"tailscale": {"tags": ["tag:builder", "tag:arm"], "ciTags": ["tag:gha"]}})
    assert _key(evaluation, "builders").inputs["tags"] == ["tag:builder", "tag:arm"]
    assert _key(evaluation, "ci").inputs["tags"] == ["tag:gha"]


def test_sidecar_joins_with_the_builder_key_through_a_secret_file(two_builders: Evaluation) -> None:
    builder_key = _key(two_builders, "builders").outputs["key"]
    for builder in ("arm64", "amd64"):
        auth = two_builders.named(f"buildkitd-{builder}-tailscale-auth")
        assert auth.inputs["stringData"] == {"authkey": builder_key}
        assert "stringData" in auth.secret_inputs
        env = {e["name"]: e.get("value") for e in _container(two_builders, builder, "tailscale")["env"]}
        assert env.pop("POD_IP") is None
        assert env == {
            "TS_USERSPACE": "true",
            "TS_HOSTNAME": f"buildkitd-{builder}",
            "TS_KUBE_SECRET": f"buildkitd-{builder}-tailscale-state",
            "TS_AUTH_ONCE": "true",
            "TS_ACCEPT_DNS": "false",
            "TS_AUTHKEY": "file:/var/run/tailscale-auth/authkey",
            "TS_SOCKET": "/tmp/tailscaled.sock",
            "TS_ENABLE_HEALTH_CHECK": "true",
            "TS_LOCAL_ADDR_PORT": "$(POD_IP):9002",
        }
        volumes = {v["name"]: v for v in _pod_spec(two_builders, builder)["volumes"]}
        assert volumes["tailscale-auth"]["secret"]["secretName"] == f"buildkitd-{builder}-tailscale-auth"


def test_no_key_material_in_any_pod_spec(two_builders: Evaluation) -> None:
    keys = [r.outputs["key"] for r in two_builders.of_type(TAILNET_KEY)]
    for deployment in two_builders.of_type("kubernetes:apps/v1:Deployment"):
        text = json.dumps(deployment.inputs)
        assert "tskey" not in text
        for key in keys:
            assert key not in text


def test_state_secret_is_created_empty_and_left_to_the_sidecar(default_stack: Evaluation) -> None:
    state = default_stack.named("buildkitd-arm64-tailscale-state")
    assert "data" not in state.inputs
    assert "stringData" not in state.inputs


def test_rbac_is_scoped_to_the_one_state_secret(default_stack: Evaluation) -> None:
    role = default_stack.named("buildkitd-arm64-tailscale-role")
    secret_rules = [r for r in role.inputs["rules"] if "secrets" in r["resources"]]
    assert secret_rules == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["buildkitd-arm64-tailscale-state"],
            "verbs": ["get", "update", "patch"],
        }
    ]
    for rule in role.inputs["rules"]:
        assert "create" not in rule["verbs"] or rule["resources"] == ["events"]
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
    binding = default_stack.named("buildkitd-arm64-tailscale-rolebinding")
    assert binding.inputs["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "buildkitd-arm64-tailscale",
    }
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "buildkitd-arm64-tailscale", "namespace": "buildkit"}
    ]


def test_only_the_sidecar_can_see_a_service_account_token(two_builders: Evaluation) -> None:
    for builder in ("arm64", "amd64"):
        spec = _pod_spec(two_builders, builder)
        assert spec["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] == f"buildkitd-{builder}-tailscale"
        sa = two_builders.named(f"buildkitd-{builder}-tailscale-sa")
        assert sa.inputs["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in spec["volumes"]}
        sources = volumes["tailscale-token"]["projected"]["sources"]
        assert any("serviceAccountToken" in s for s in sources)
        sidecar_mounts = {
            m["name"]: m["mountPath"] for m in _container(two_builders, builder, "tailscale")["volumeMounts"]
        }
        assert sidecar_mounts["tailscale-token"] == "/var/run/secrets/kubernetes.io/serviceaccount"
        buildkitd_mounts = {m["name"] for m in _container(two_builders, builder, "buildkitd")["volumeMounts"]}
        assert buildkitd_mounts == {"certs", "config", "state"}


def test_sidecar_security_context_is_restricted(default_stack: Evaluation) -> None:
    context = _container(default_stack, "arm64", "tailscale")["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["readOnlyRootFilesystem"] is True
    resources = _container(default_stack, "arm64", "tailscale")["resources"]
    assert set(resources) == {"requests", "limits"}


def test_tailscale_off_declares_none_of_it(two_builders_no_tailscale: Evaluation) -> None:
    for kind in TAILSCALE_KINDS:
        assert two_builders_no_tailscale.of_type(kind) == [], kind
    assert not [r for r in two_builders_no_tailscale.resources if "tailscale" in r.name]
    for builder in ("arm64", "amd64"):
        spec = _pod_spec(two_builders_no_tailscale, builder)
        assert [c["name"] for c in spec["containers"]] == ["buildkitd"]
        assert spec.get("initContainers", []) == []
        assert "serviceAccountName" not in spec
    assert "tailscale_ci_auth_key" not in two_builders_no_tailscale.outputs
    assert "tailscale_policy" not in two_builders_no_tailscale.outputs


def test_tailscale_on_declares_one_identity_per_builder(two_builders: Evaluation) -> None:
    counts = {kind: len(two_builders.of_type(kind)) for kind in TAILSCALE_KINDS}
    assert counts == {TAILSCALE_KINDS[0]: 2, TAILSCALE_KINDS[1]: 2, TAILSCALE_KINDS[2]: 2, TAILSCALE_KINDS[3]: 2}


def _mtls_to(evaluation: Evaluation, builder: str, server_name: str) -> bool:
    return bool(handshake_with_builder(evaluation, builder, server_name).ok)


@pytest.mark.parametrize("builder", ["arm64", "amd64"])
def test_mtls_with_the_tailnet_hostname(two_builders: Evaluation, builder: str) -> None:
    address = builder_entry(two_builders, builder)["address"]
    assert address == f"tcp://buildkitd-{builder}:1234"
    assert _mtls_to(two_builders, builder, host_of(address))


def test_original_setup_name_buildkitd() -> None:
    evaluation = run_stack({"builders": [{"name": "arm64", "platform": "linux/arm64", "hostname": "buildkitd"}]})
    assert evaluation.output("builder_address") == "tcp://buildkitd:1234"
    assert _mtls_to(evaluation, "arm64", "buildkitd")
    env = {e["name"]: e.get("value") for e in _container(evaluation, "arm64", "tailscale")["env"]}
    assert env["TS_HOSTNAME"] == "buildkitd"


def test_tailnet_domain_gives_fqdn_addresses_that_are_sans() -> None:
    evaluation = run_stack({"tailscale": {"tailnetDomain": "tail1234.ts.net"}})
    address = evaluation.output("builder_address")
    assert address == "tcp://buildkitd-arm64.tail1234.ts.net:1234"
    assert _mtls_to(evaluation, "arm64", "buildkitd-arm64.tail1234.ts.net")
    assert _mtls_to(evaluation, "arm64", "buildkitd-arm64")


def test_policy_output_grants_ci_the_builder_port_only() -> None:
    evaluation = run_stack({"port": "2345", "tailscale": {"tags": ["tag:bk"], "ciTags": ["tag:gha", "tag:ci"]}})
    output = evaluation.outputs["tailscale_policy"]
    assert not output.secret
    assert output.value == {
        "tagOwners": {"tag:bk": ["autogroup:admin"], "tag:gha": ["autogroup:admin"], "tag:ci": ["autogroup:admin"]},
        "grants": [{"src": ["tag:gha", "tag:ci"], "dst": ["tag:bk"], "ip": ["tcp:2345"]}],
        "tests": [{"src": "tag:gha", "accept": ["tag:bk:2345"], "deny": ["tag:bk:22"]}],
    }


def test_health_listener_binds_to_the_pod_ip_never_loopback(default_stack: Evaluation) -> None:
    sidecar = _container(default_stack, "arm64", "tailscale")
    env = {e["name"]: e for e in sidecar["env"]}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    # Kubernetes expands $(POD_IP) only from variables defined before it.
    names = [e["name"] for e in sidecar["env"]]
    assert names.index("POD_IP") < names.index("TS_LOCAL_ADDR_PORT")
    assert env["TS_LOCAL_ADDR_PORT"]["value"] == "$(POD_IP):9002"
    assert sidecar["readinessProbe"]["tcpSocket"] == {"port": 9002}
    assert sidecar["livenessProbe"]["tcpSocket"] == {"port": 9002}


def test_sidecar_is_native_so_it_outlives_the_drain(default_stack: Evaluation) -> None:
    spec = _pod_spec(default_stack, "arm64")
    assert [c["name"] for c in spec["containers"]] == ["buildkitd"]
    (sidecar,) = spec["initContainers"]
    assert sidecar["name"] == "tailscale"
    assert sidecar["restartPolicy"] == "Always"
