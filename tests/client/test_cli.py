"""The client CLI against stack outputs made by the real program on the offline engine."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from remote_buildkit.client.cli import main
from tests.conftest import REPO


def _run(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remote_buildkit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_bundle_writes_private_files_and_prints_absolute_paths(stack_outputs: str, tmp_path: Path) -> None:
    result = _run(["bundle", str(tmp_path / "certs")], stack_outputs)
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert [p.name for p in paths] == ["ca.pem", "cert.pem", "key.pem"]
    bundle = json.loads(stack_outputs)["client_bundle"]
    for path, key in zip(paths, ("ca", "cert", "key"), strict=True):
        assert path.is_absolute()
        assert path.read_text() == bundle[key]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_buildx_prints_one_node_per_platform(stack_outputs: str, tmp_path: Path) -> None:
    certs = tmp_path / "c"
    result = _run(["buildx", "--name", "ci", "--certs-dir", str(certs)], stack_outputs)
    assert result.returncode == 0, result.stderr
    opts = f"cacert={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem"
    assert result.stdout.splitlines() == [
        f"docker buildx create --name ci --node ci-arm64 --driver remote --driver-opt {opts},servername=127.0.0.1 "
        "--platform linux/arm64 tcp://127.0.0.1:1234",
        f"docker buildx create --append --name ci --node ci-amd64 --driver remote --driver-opt "
        f"{opts},servername=127.0.0.1 --platform linux/amd64 tcp://127.0.0.1:1235",
    ]
    assert (certs / "key.pem").exists()


def test_buildx_uses_tailnet_names_as_server_names(tailnet_stack, tmp_path: Path) -> None:
    from tests.client.conftest import outputs_json

    result = _run(["buildx", "--certs-dir", str(tmp_path)], outputs_json(tailnet_stack))
    lines = result.stdout.splitlines()
    assert lines[0].endswith("servername=buildkitd-arm64 --platform linux/arm64 tcp://buildkitd-arm64:1234")
    assert lines[1].endswith("servername=buildkitd-amd64 --platform linux/amd64 tcp://buildkitd-amd64:1234")


def test_ci_secret_holds_everything_ci_needs(tailnet_stack) -> None:
    from tests.client.conftest import outputs_json

    result = _run(["ci-secret"], outputs_json(tailnet_stack))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"builders", "client_bundle", "tailscale_ci_auth_key"}
    assert document["tailscale_ci_auth_key"] == tailnet_stack.output("tailscale_ci_auth_key")
    assert document["client_bundle"] == tailnet_stack.output("client_bundle")
    assert [b["name"] for b in document["builders"]] == ["arm64", "amd64"]


def test_outputs_can_come_from_a_file(stack_outputs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(stack_outputs)
    assert main(["--outputs", str(path), "ci-secret"]) == 0
    assert json.loads(capsys.readouterr().out)["builders"][0]["address"] == "tcp://127.0.0.1:1234"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "no stack outputs given"),
        ("not json", "stack outputs are not JSON"),
        ("[]", "must be a JSON object"),
        ('{"builders": []}', "client_bundle is missing"),
        ('{"client_bundle": "[secret]", "builders": []}', "client_bundle is redacted"),
    ],
)
def test_bad_input_is_one_line_without_traceback(stdin: str, message: str) -> None:
    result = _run(["doctor"], stdin)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bundle_without_key_is_named(stack_outputs: str) -> None:
    document = json.loads(stack_outputs)
    del document["client_bundle"]["key"]
    result = _run(["bundle", "/tmp/unused"], json.dumps(document))
    assert result.returncode == 2
    assert result.stderr.strip() == "remote-buildkit: client_bundle.key is missing from the stack outputs"


def test_missing_outputs_file_is_one_line() -> None:
    result = _run(["--outputs", "/nonexistent/outputs.json", "doctor"], "")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "remote-buildkit: cannot read --outputs /nonexistent/outputs.json: No such file or directory"
    )


def test_platforms_and_tailscale_key(tailnet_stack, two_builders_no_tailscale) -> None:
    from tests.client.conftest import outputs_json

    assert _run(["platforms"], outputs_json(tailnet_stack)).stdout == "linux/arm64,linux/amd64\n"
    assert _run(["tailscale-key"], outputs_json(tailnet_stack)).stdout.strip() == tailnet_stack.output(
        "tailscale_ci_auth_key"
    )
    missing = _run(["tailscale-key"], outputs_json(two_builders_no_tailscale))
    assert missing.returncode == 2
    assert "tailscale_ci_auth_key is missing" in missing.stderr


def test_ci_secret_is_stored_with_gh_when_asked(tailnet_stack, tmp_path: Path) -> None:
    from tests.client.conftest import outputs_json

    received = tmp_path / "received"
    fake_gh = tmp_path / "bin" / "gh"
    fake_gh.parent.mkdir()
    fake_gh.write_text(f'#!/bin/sh\necho "$@" > "{received}.args"\ncat > "{received}"\n')
    fake_gh.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-m", "remote_buildkit", "ci-secret", "--github-repo", "acme/app"],
        input=outputs_json(tailnet_stack),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PATH": f"{fake_gh.parent}:/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stored REMOTE_BUILDKIT in acme/app"
    assert (tmp_path / "received.args").read_text().split() == [
        "secret",
        "set",
        "REMOTE_BUILDKIT",
        "--repo",
        "acme/app",
    ]
    stored = json.loads(received.read_text())
    assert stored["tailscale_ci_auth_key"] == tailnet_stack.output("tailscale_ci_auth_key")
    assert "tskey" not in result.stdout + result.stderr


def test_ci_secret_without_gh_is_one_line(stack_outputs: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "remote_buildkit", "ci-secret", "--github-repo", "acme/app"],
        input=stack_outputs,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "needs the GitHub CLI (gh)" in result.stderr


def test_unwritable_bundle_directory_is_one_line(stack_outputs: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = _run(["bundle", str(blocker / "certs")], stack_outputs)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
