"""`remote-buildkit render`: stable, reviewable, and free of secrets."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from remote_buildkit.offline.render import load_stack_file, render
from tests.conftest import REPO
from tests.render.conftest import load_objects


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_rendering_twice_gives_identical_trees(rendered: Path, tmp_path: Path) -> None:
    render(REPO, "dev", tmp_path)
    assert _tree(tmp_path) == _tree(rendered)


def test_one_file_per_object_with_stable_names(objects: dict[str, dict[str, Any]]) -> None:
    assert sorted(objects) == [
        "buildkit_configmap.core_buildkitd-amd64-config.yaml",
        "buildkit_configmap.core_buildkitd-arm64-config.yaml",
        "buildkit_deployment.apps_buildkitd-amd64.yaml",
        "buildkit_deployment.apps_buildkitd-arm64.yaml",
        "buildkit_networkpolicy.networking.k8s.io_buildkitd-amd64.yaml",
        "buildkit_networkpolicy.networking.k8s.io_buildkitd-arm64.yaml",
        "buildkit_role.rbac.authorization.k8s.io_buildkitd-amd64-tailscale.yaml",
        "buildkit_role.rbac.authorization.k8s.io_buildkitd-arm64-tailscale.yaml",
        "buildkit_rolebinding.rbac.authorization.k8s.io_buildkitd-amd64-tailscale.yaml",
        "buildkit_rolebinding.rbac.authorization.k8s.io_buildkitd-arm64-tailscale.yaml",
        "buildkit_secret.core_buildkitd-amd64-certs.yaml",
        "buildkit_secret.core_buildkitd-amd64-tailscale-auth.yaml",
        "buildkit_secret.core_buildkitd-amd64-tailscale-state.yaml",
        "buildkit_secret.core_buildkitd-arm64-certs.yaml",
        "buildkit_secret.core_buildkitd-arm64-tailscale-auth.yaml",
        "buildkit_secret.core_buildkitd-arm64-tailscale-state.yaml",
        "buildkit_service.core_buildkitd-amd64.yaml",
        "buildkit_service.core_buildkitd-arm64.yaml",
        "buildkit_serviceaccount.core_buildkitd-amd64-tailscale.yaml",
        "buildkit_serviceaccount.core_buildkitd-arm64-tailscale.yaml",
        "cluster_namespace.core_buildkit.yaml",
    ]


def test_numbers_are_integers_and_keys_sorted(rendered: Path) -> None:
    text = (rendered / "buildkit_deployment.apps_buildkitd-arm64.yaml").read_text()
    assert "replicas: 1\n" in text
    assert "containerPort: 1234\n" in text
    assert not re.search(r": \d+\.0\n", text)
    top_level = [line.split(":")[0] for line in text.splitlines() if re.match(r"^[a-z]", line)]
    assert top_level == sorted(top_level) == ["apiVersion", "kind", "metadata", "spec"]


def test_no_key_material_or_generated_value_is_rendered(rendered: Path) -> None:
    for path in rendered.iterdir():
        text = path.read_text()
        assert "BEGIN" not in text, path.name
        assert "tskey" not in text, path.name
        assert "<computed:" not in text, path.name
    secret = yaml.safe_load((rendered / "buildkit_secret.core_buildkitd-arm64-certs.yaml").read_text())
    assert secret["stringData"] == {"ca.pem": "<computed>", "cert.pem": "<computed>", "key.pem": "<computed>"}
    auth = yaml.safe_load((rendered / "buildkit_secret.core_buildkitd-arm64-tailscale-auth.yaml").read_text())
    assert auth["stringData"] == {"authkey": "<computed>"}


def test_summary_lists_certificates_and_tailnet_keys_without_secrets(rendered: Path) -> None:
    summary = yaml.safe_load((rendered / "summary.yaml").read_text())
    certificates = {c["name"]: c for c in summary["certificates"]}
    assert set(certificates) == {
        "pki-root-cert",
        "pki-intermediate-cert",
        "pki-server-arm64-cert",
        "pki-server-amd64-cert",
        "pki-client-ci-cert",
    }
    server = certificates["pki-server-arm64-cert"]
    assert server["issuer"] == "pki-intermediate-cert"
    assert server["subject"] == {"commonName": "buildkitd-arm64", "organization": "remote-buildkit"}
    assert "buildkitd-arm64.buildkit.svc" in server["dnsNames"]
    assert server["allowedUses"] == ["digital_signature", "key_encipherment", "server_auth"]
    assert server["validityHours"] == 2160
    assert certificates["pki-intermediate-cert"]["issuer"] == "pki-root-cert"
    assert certificates["pki-root-cert"]["issuer"] == "self-signed"
    keys = {k["name"]: k for k in summary["tailnetKeys"]}
    assert keys["tailnet-ci"]["tags"] == ["tag:ci"]
    assert keys["tailnet-builders"]["ephemeral"] is True
    assert "key" not in keys["tailnet-ci"]
    assert summary["outputs"]["client_bundle"] == "<secret>"
    assert summary["outputs"]["tailscale_ci_auth_key"] == "<secret>"
    assert summary["outputs"]["builder_address"] == "tcp://buildkitd-arm64:1234"
    assert {k["ecdsaCurve"] for k in summary["privateKeys"]} == {"P256"}


def test_secure_config_values_are_redacted(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    (project / "Pulumi.ci.yaml").write_text(
        "config:\n"
        "  kubernetes:context: kind-kind\n"
        "  tailscale:oauthClientSecret:\n"
        "    secure: v1:AAAABBBBCCCC\n"
        "  remote-buildkit:tailscale:\n"
        "    enabled: false\n"
        "  port: 2345\n"
    )
    stack = load_stack_file(project, "ci")
    assert stack.config["tailscale:oauthClientSecret"] == "<redacted>"
    assert stack.secret_keys == ("tailscale:oauthClientSecret",)
    assert stack.config["remote-buildkit:port"] == "2345"

    out = tmp_path / "out"
    render(project, "ci", out)
    assert "AAAABBBB" not in "".join(p.read_text() for p in out.iterdir())
    service = yaml.safe_load((out / "buildkit_service.core_buildkitd-arm64.yaml").read_text())
    assert service["spec"]["ports"][0]["port"] == 2345
    assert not list(out.glob("*tailscale*"))


def test_stale_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "buildkit_deployment.apps_gone.yaml").write_text("old")
    render(REPO, "dev", tmp_path)
    assert not (tmp_path / "buildkit_deployment.apps_gone.yaml").exists()


def test_cli_render_and_its_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "remote_buildkit", "render", "--out", str(tmp_path / "r")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(load_objects(tmp_path / "r")) == 21
    missing = subprocess.run(
        [sys.executable, "-m", "remote_buildkit", "render", "--stack", "nope", "--out", str(tmp_path / "x")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("Pulumi.nope.yaml: No such file or directory")


def test_pr_job_diff_of_an_unchanged_stack_is_empty(rendered: Path, tmp_path: Path) -> None:
    """Run the workflow's own diff step on two renders of the same stack."""
    workflow = yaml.safe_load((REPO / ".github/workflows/render-diff.yml").read_text())
    (diff_step,) = [s for s in workflow["jobs"]["render-diff"]["steps"] if s["name"] == "Post the diff"]
    shutil.copytree(rendered, tmp_path / "rendered" / "base")
    render(REPO, "dev", tmp_path / "rendered" / "head")
    summary = tmp_path / "summary.md"
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", diff_step["run"]],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(summary)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert summary.read_text() == "### Rendered objects: no changes\n"
    assert (tmp_path / "render.diff").read_text() == ""


def test_bad_stack_config_is_reported_without_a_traceback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    (project / "Pulumi.bad.yaml").write_text('config:\n  remote-buildkit:port: "80"\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "remote_buildkit",
            "render",
            "--project-dir",
            str(project),
            "--stack",
            "bad",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("remote-buildkit: Pulumi.bad.yaml: remote-buildkit:port = '80':")
