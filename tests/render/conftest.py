"""The dev stack (two builders, Tailscale on) rendered offline, once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from remote_buildkit.offline.render import SUMMARY_FILE, render
from tests.conftest import REPO


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    render(REPO, "dev", out)
    return out


def load_objects(directory: Path) -> dict[str, dict[str, Any]]:
    """Every rendered Kubernetes object, by file name."""
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(directory.glob("*.yaml")) if p.name != SUMMARY_FILE}


@pytest.fixture(scope="session")
def objects(rendered: Path) -> dict[str, dict[str, Any]]:
    return load_objects(rendered)
