"""The repository's workflows and the setup-builder action, checked offline by three independent tools."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTION = REPO / "setup-builder" / "action.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _tool(name: str, *args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False)


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in document:
        return list(document["runs"]["steps"])
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_there_are_the_expected_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == [
        "deploy.yml",
        "example-consumer.yml",
        "preview.yml",
        "render-diff.yml",
        "test.yml",
    ]


def test_workflows_match_githubs_schema() -> None:
    result = _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_matches_githubs_schema() -> None:
    result = _tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_nothing() -> None:
    result = _tool("actionlint", "-no-color", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing() -> None:
    result = _tool("zizmor", "--offline", "--no-progress", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checkers_do_catch_an_unsafe_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    assert _tool("actionlint", "-no-color", bad).returncode != 0
    assert _tool("zizmor", "--offline", "--no-progress", ".", cwd=tmp_path).returncode != 0


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_every_remote_action_is_pinned_by_commit(path: Path) -> None:
    uses = [step["uses"] for step in _steps(_load(path)) if "uses" in step]
    for reference in uses:
        assert reference.startswith("./") or PINNED.match(reference), reference


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_declare_least_permissions(path: Path) -> None:
    document = _load(path)
    assert document["permissions"] == {"contents": "read"}
    for job in document["jobs"].values():
        extra = {k: v for k, v in job.get("permissions", {}).items() if v != "read"}
        assert set(extra) <= {"pull-requests"}, extra


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_shell_script(path: Path) -> None:
    for step in _steps(_load(path)):
        assert "${{" not in step.get("run", ""), step


def test_preview_and_deploy_refresh_first() -> None:
    preview = _steps(_load(REPO / ".github/workflows/preview.yml"))
    deploy = _steps(_load(REPO / ".github/workflows/deploy.yml"))
    (preview_step,) = [s for s in preview if s.get("uses", "").startswith("pulumi/actions@")]
    (deploy_step,) = [s for s in deploy if s.get("uses", "").startswith("pulumi/actions@")]
    assert preview_step["with"]["command"] == "preview"
    assert preview_step["with"]["comment-on-pr"] is True
    assert preview_step["with"]["refresh"] is True
    assert deploy_step["with"]["command"] == "up"
    assert deploy_step["with"]["refresh"] is True
    # YAML 1.1 reads the key `on` as True.
    triggers = yaml.safe_load((REPO / ".github/workflows/deploy.yml").read_text())[True]
    assert "schedule" in triggers


def test_action_passes_the_secret_only_through_the_environment() -> None:
    action = _load(ACTION)
    (read_step,) = [s for s in action["runs"]["steps"] if s.get("id") == "config"]
    assert read_step["env"]["CONFIG"] == "${{ inputs.config }}"
    assert "::add-mask::" in read_step["run"]


def test_action_config_step_publishes_platforms_and_masks_the_key(tmp_path: Path) -> None:
    """Run the action's own 'Read the builder config' script with the runner's files faked."""
    from tests.client.conftest import outputs_json
    from tests.conftest import TWO_BUILDERS, run_stack

    evaluation = run_stack({"builders": TWO_BUILDERS})
    work = tmp_path / "remote-buildkit"
    (work / "venv" / "bin").mkdir(parents=True)
    cli = work / "venv" / "bin" / "remote-buildkit"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m remote_buildkit "$@"\n')
    cli.chmod(0o755)
    github_output = tmp_path / "github_output"
    github_output.touch()
    (read_step,) = [s for s in _load(ACTION)["runs"]["steps"] if s.get("id") == "config"]

    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", read_step["run"]],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "CONFIG": outputs_json(evaluation),
            "WORK": str(work),
            "GITHUB_OUTPUT": str(github_output),
        },
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    key = evaluation.output("tailscale_ci_auth_key")
    assert result.stdout.strip() == f"::add-mask::{key}"
    assert github_output.read_text().splitlines() == ["platforms=linux/arm64,linux/amd64", f"authkey={key}"]
    assert (work / "outputs.json").stat().st_mode & 0o077 == 0
