"""Shared fixtures: the real program evaluated on the offline engine, with stack config as a user would write it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from remote_buildkit.offline.engine import Evaluation, evaluate

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "__main__.py"

TWO_BUILDERS = [{"name": "arm64", "platform": "linux/arm64"}, {"name": "amd64", "platform": "linux/amd64"}]


def stack_config(values: Mapping[str, Any], project: str = "remote-buildkit") -> dict[str, str]:
    """Config as the CLI hands it to the program: every value a string, structured ones as JSON."""
    return {f"{project}:{key}": value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def run_stack(values: Mapping[str, Any]) -> Evaluation:
    return evaluate(PROGRAM, stack_config(values))


@pytest.fixture
def run() -> Callable[[Mapping[str, Any]], Evaluation]:
    return run_stack


@pytest.fixture(scope="session")
def two_builders_no_tailscale() -> Evaluation:
    """The stack from issue "part 1": arm64 and amd64 builders, Tailscale off."""
    return run_stack({"builders": TWO_BUILDERS, "tailscale": {"enabled": False}})
