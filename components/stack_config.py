"""Reads the stack's config from the Pulumi runtime and validates it, before any resource is declared."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from remote_buildkit.config import ConfigError, StackConfig, load_config


def raw_config() -> dict[str, str]:
    """Every config value the engine handed the program, keyed ``namespace:key``.

    The CLI passes config as one JSON object in ``PULUMI_CONFIG``; test
    harnesses and the automation API set it in the runtime directly.
    """
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def load_stack_config() -> StackConfig:
    """The validated config of this project's namespace; a bad value stops the program with a plain error."""
    try:
        return load_config(raw_config(), pulumi.get_project())
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
