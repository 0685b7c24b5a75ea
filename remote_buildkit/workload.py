"""What runs in a builder pod: the rootless buildkitd command line, its probes, paths and fingerprints.

Follows BuildKit's ``examples/kubernetes/deployment+service.rootless.yaml``.
"""

from __future__ import annotations

import hashlib

ROOTLESS_UID = 1000
ROOTLESS_GID = 1000
CERT_DIR = "/certs"
#: Where rootless buildkitd keeps its cache and metadata (``$XDG_DATA_HOME/buildkit``).
STATE_DIR = "/home/user/.local/share/buildkit"
SOCKET = f"unix:///run/user/{ROOTLESS_UID}/buildkit/buildkitd.sock"
#: ``buildctl`` talks to the socket above (the image sets BUILDKIT_HOST), so probes need no certificate.
PROBE_COMMAND = ("buildctl", "debug", "workers")
CERT_FILES = ("ca.pem", "cert.pem", "key.pem")


def buildkitd_args(port: int) -> list[str]:
    """The daemon's flags: a unix socket for probes, and TCP with mTLS for clients.

    ``--tlscacert`` is what makes buildkitd demand a client certificate, so it
    is always given.
    """
    return [
        "--addr",
        SOCKET,
        "--addr",
        f"tcp://0.0.0.0:{port}",
        "--tlscacert",
        f"{CERT_DIR}/ca.pem",
        "--tlscert",
        f"{CERT_DIR}/cert.pem",
        "--tlskey",
        f"{CERT_DIR}/key.pem",
        # Rootless in an unprivileged pod cannot create a PID namespace per step.
        "--oci-worker-no-process-sandbox",
    ]


def fingerprint(text: str) -> str:
    """SHA-256 of a text, used in pod annotations so that a changed certificate rolls the pod.

    buildkitd reads its certificates once at start, so a renewed certificate
    only takes effect through a new pod.
    """
    return hashlib.sha256(text.encode()).hexdigest()


TAILSCALE_AUTH_DIR = "/var/run/tailscale-auth"
TAILSCALE_AUTH_FILE = "authkey"
#: Where client-go and containerboot look for the service-account token, CA and namespace.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_TOKEN_SECONDS = 3600


def tailscale_env(hostname: str, state_secret: str) -> dict[str, str]:
    """containerboot's settings for a userspace sidecar that forwards tailnet TCP to the pod's loopback.

    The auth key is passed as ``file:`` so it never sits in the pod spec or the
    process environment; ``TS_AUTH_ONCE`` plus state in a Secret keeps one node
    identity across restarts instead of piling up ``buildkitd-1``, ``-2``, ...
    """
    return {
        "TS_USERSPACE": "true",
        "TS_HOSTNAME": hostname,
        "TS_KUBE_SECRET": state_secret,
        "TS_AUTH_ONCE": "true",
        "TS_ACCEPT_DNS": "false",
        "TS_AUTHKEY": f"file:{TAILSCALE_AUTH_DIR}/{TAILSCALE_AUTH_FILE}",
        "TS_ENABLE_HEALTH_CHECK": "true",
        # POD_IP comes from the downward API; never 0.0.0.0 or loopback, which the tailnet reaches.
        "TS_LOCAL_ADDR_PORT": f"$(POD_IP):{TAILSCALE_HEALTH_PORT}",
        # The socket lives on the writable /tmp emptyDir; the root filesystem is read-only.
        "TS_SOCKET": "/tmp/tailscaled.sock",  # noqa: S108 - a per-pod emptyDir, not a shared /tmp
    }


#: Where containerboot serves its health check: the pod IP only, because userspace
#: networking forwards tailnet traffic to the pod's loopback.
TAILSCALE_HEALTH_PORT = 9002
#: A high UID for the sidecar, which does not depend on its image's user.
TAILSCALE_UID = 65532

#: checkov findings that rootless buildkitd cannot avoid, with the reason each is accepted.
#: Reasons may not contain '=' (checkov splits on it).
BUILDKITD_CHECKOV_SKIPS = {
    "CKV_K8S_20": "rootless buildkitd runs setuid newuidmap/newgidmap to map its user namespace",
    "CKV_K8S_22": "rootlesskit and buildkitd write to their home and runtime directories in the image",
    "CKV_K8S_31": "rootless buildkitd needs seccomp Unconfined to create user namespaces and mounts",
    "CKV_K8S_37": "newuidmap needs SETUID and SETGID in the bounding set; only NET_RAW is dropped",
    "CKV_K8S_40": "the rootless image fixes UID 1000 for buildkitd and its subuid range",
    "CKV_K8S_43": "images are pinned by release tag; set the image config keys to a digest to pin harder",
}


def checkov_annotations(skips: dict[str, str]) -> dict[str, str]:
    """``checkov.io/skipN: CHECK=reason`` annotations, numbered in check order so they are stable."""
    return {f"checkov.io/skip{n}": f"{check}={reason}" for n, (check, reason) in enumerate(sorted(skips.items()), 1)}
