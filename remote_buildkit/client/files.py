"""Writing the client bundle to disk with the permissions buildx and a shared CI runner need."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from remote_buildkit.client.outputs import ClientBundle


@dataclass(frozen=True)
class BundlePaths:
    ca: Path
    cert: Path
    key: Path


def write_bundle(bundle: ClientBundle, directory: Path) -> BundlePaths:
    """Write ``ca.pem``, ``cert.pem`` and ``key.pem`` (all mode 0600) and return their absolute paths.

    Files are created with restrictive permissions from the start, so the key
    is never readable by others, not even for a moment.
    """
    directory = directory.expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = BundlePaths(ca=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem")
    for path, text in ((paths.ca, bundle.ca), (paths.cert, bundle.cert), (paths.key, bundle.key)):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o600)
    return paths
