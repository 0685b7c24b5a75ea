"""The tailnet policy the builders need, built from the configured tags and port.

The stack cannot own the tailnet policy file (``tailscale.Acl`` would overwrite
all of it), so it exports this snippet for the user to merge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

MAX_KEY_DESCRIPTION = 50


def policy_snippet(builder_tags: Sequence[str], ci_tags: Sequence[str], port: int) -> dict[str, Any]:
    """tagOwners for both tag sets, one grant from CI to the builder port only, and tests that pin it down."""
    owners = {tag: ["autogroup:admin"] for tag in (*builder_tags, *ci_tags)}
    destination = builder_tags[0]
    # Any port other than the builder's must stay closed; 22 is the likeliest to be tried.
    closed_port = 22 if port != 22 else 23
    return {
        "tagOwners": owners,
        "grants": [{"src": list(ci_tags), "dst": list(builder_tags), "ip": [f"tcp:{port}"]}],
        "tests": [
            {
                "src": ci_tags[0],
                "accept": [f"{destination}:{port}"],
                "deny": [f"{destination}:{closed_port}"],
            }
        ],
    }


def key_description(stack: str, role: str) -> str:
    """A TailnetKey description: the API accepts letters, digits and spaces, up to 50 characters."""
    words = re.sub(r"[^A-Za-z0-9]+", " ", f"remote buildkit {stack} {role}").split()
    return " ".join(words)[:MAX_KEY_DESCRIPTION].strip()
