"""Every rendered object against Kubernetes' own schemas, a security scanner, and our per-container rules."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate import utils as kv_utils

from tests.conftest import REPO

OLDEST_SUPPORTED = "1.30.0"  # appArmorProfile became a pod-spec field in 1.30
NEWEST_BUNDLED = kv_utils.latest_version()

#: The checks rootless buildkitd cannot pass; each is suppressed on the Deployment with its reason.
EXPECTED_SKIPS = {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_40", "CKV_K8S_43"}


@pytest.mark.parametrize("version", [OLDEST_SUPPORTED, NEWEST_BUNDLED])
def test_every_object_passes_strict_schema_validation(objects: dict[str, dict[str, Any]], version: str) -> None:
    assert len(objects) == 21
    for name, body in objects.items():
        kubernetes_validate.validate(body, version, strict=True)  # raises on any problem
        assert body["metadata"]["name"], name


def test_strict_validation_does_catch_a_misspelled_field(objects: dict[str, dict[str, Any]]) -> None:
    body = json.loads(json.dumps(objects["buildkit_deployment.apps_buildkitd-arm64.yaml"]))
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, NEWEST_BUNDLED, strict=True)


def _checkov() -> str:
    path = os.environ.get("CHECKOV", str(REPO / ".venv-checkov" / "bin" / "checkov"))
    if not Path(path).exists():
        pytest.fail(f"checkov is not installed at {path}; `make test` installs it into .venv-checkov")
    return path


def _scan(directory: Path) -> dict[str, Any]:
    result = subprocess.run(
        [_checkov(), "-d", str(directory), "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    return dict(report[0] if isinstance(report, list) else report)


@pytest.fixture(scope="session")
def checkov_report(rendered: Path) -> dict[str, Any]:
    return _scan(rendered)


def test_checkov_reports_no_failed_check(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in checkov_report["results"]["failed_checks"]]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 21
    assert summary["passed"] > 100


def test_checkov_skips_exactly_the_justified_checks(checkov_report: dict[str, Any]) -> None:
    skipped: dict[str, set[str]] = {}
    for check in checkov_report["results"]["skipped_checks"]:
        skipped.setdefault(check["resource"], set()).add(check["check_id"])
        assert check["check_result"]["suppress_comment"].strip(), check["check_id"]
    assert skipped == {
        "Deployment.buildkit.buildkitd-arm64": EXPECTED_SKIPS,
        "Deployment.buildkit.buildkitd-amd64": EXPECTED_SKIPS,
    }


def test_checkov_does_fail_an_unhardened_pod(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  namespace: x\n"
        "spec:\n  containers:\n  - name: c\n    image: busybox\n    securityContext:\n      privileged: true\n"
    )
    report = _scan(tmp_path)
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert "CKV_K8S_16" in failed  # privileged


def _pod_specs(objects: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [b["spec"]["template"]["spec"] for b in objects.values() if b["kind"] == "Deployment"]


def _all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec["containers"]) + list(spec.get("initContainers", []))


def test_tailscale_sidecar_meets_pod_security_restricted(objects: dict[str, dict[str, Any]]) -> None:
    restricted_volume_types = {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
    specs = _pod_specs(objects)
    assert len(specs) == 2
    for spec in specs:
        (sidecar,) = [c for c in _all_containers(spec) if c["name"] == "tailscale"]
        context = sidecar["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] != 0
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost")
        assert "privileged" not in context or context["privileged"] is False
        assert "appArmorProfile" not in context
        assert not any("hostPort" in p for p in sidecar.get("ports", []))
        volumes = {v["name"]: v for v in spec["volumes"]}
        for mount in sidecar["volumeMounts"]:
            volume_types = set(volumes[mount["name"]]) - {"name"}
            assert volume_types <= restricted_volume_types, mount


def test_only_buildkitd_is_unconfined(objects: dict[str, dict[str, Any]]) -> None:
    for spec in _pod_specs(objects):
        for container in _all_containers(spec):
            context = container.get("securityContext", {})
            unconfined = (
                context.get("seccompProfile", {}).get("type") == "Unconfined"
                or context.get("appArmorProfile", {}).get("type") == "Unconfined"
            )
            assert unconfined == (container["name"] == "buildkitd"), container["name"]
        assert spec.get("securityContext", {}).get("seccompProfile", {}).get("type") != "Unconfined"


def test_nothing_is_privileged_or_touches_the_host(objects: dict[str, dict[str, Any]]) -> None:
    for spec in _pod_specs(objects):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert spec.get(key) is not True, key
        assert all("hostPath" not in v for v in spec["volumes"])
        for container in _all_containers(spec):
            context = container.get("securityContext", {})
            assert context.get("privileged") is not True, container["name"]
            assert not context.get("capabilities", {}).get("add"), container["name"]
            assert not any("hostPort" in p for p in container.get("ports", []))


def test_skip_annotations_sit_on_the_workload_with_reasons(objects: dict[str, dict[str, Any]]) -> None:
    for name in ("buildkit_deployment.apps_buildkitd-arm64.yaml", "buildkit_deployment.apps_buildkitd-amd64.yaml"):
        annotations = objects[name]["metadata"]["annotations"]
        skips = {k: v for k, v in annotations.items() if k.startswith("checkov.io/skip")}
        assert {v.split("=", 1)[0] for v in skips.values()} == EXPECTED_SKIPS
        for value in skips.values():
            check, reason = value.split("=", 1)
            assert "=" not in reason
            assert len(reason) > 20, check
