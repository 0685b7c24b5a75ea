"""What runs in a builder pod: the rootless buildkitd command line, its probes, paths and fingerprints.

Follows BuildKit's ``examples/kubernetes/deployment+service.rootless.yaml``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal

ROOTLESS_UID = 1000
ROOTLESS_GID = 1000
CERT_DIR = "/certs"
#: Where rootless buildkitd keeps its cache and metadata (``$XDG_DATA_HOME/buildkit``).
STATE_DIR = "/home/user/.local/share/buildkit"
SOCKET = f"unix:///run/user/{ROOTLESS_UID}/buildkit/buildkitd.sock"
#: ``buildctl`` talks to the socket above (the image sets BUILDKIT_HOST), so probes need no certificate.
PROBE_COMMAND = ("buildctl", "debug", "workers")
CERT_FILES = ("ca.pem", "cert.pem", "key.pem")


CONFIG_DIR = "/etc/buildkit"
CONFIG_FILE = "buildkitd.toml"


def buildkitd_args(port: int, metrics_port: int | None = None) -> list[str]:
    """The daemon's flags: a unix socket for probes, TCP with mTLS for clients, the config file.

    ``--tlscacert`` is what makes buildkitd demand a client certificate, so it
    is always given. The debug listener (which serves ``/metrics``, and also
    pprof and cache dumps) binds to the pod IP only: the Tailscale sidecar
    exposes everything on the pod's loopback to the tailnet.
    """
    debug = ["--debugaddr", f"tcp://$(POD_IP):{metrics_port}"] if metrics_port else []
    return [
        "--config",
        f"{CONFIG_DIR}/{CONFIG_FILE}",
        *debug,
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


@dataclass(frozen=True)
class GcPolicy:
    """How much of the cache BuildKit keeps, in bytes, derived from the space it has."""

    reserved: int
    max_used: int
    min_free: int


def gc_policy(cache_bytes: int) -> GcPolicy:
    """Keep at least 10% of the cache, never use more than 80% (room for a running build), keep 20% free.

    The 80% ceiling matters twice: on a PVC it leaves space for the layers of
    the build in progress, and on an emptyDir it keeps usage under the
    sizeLimit, past which the kubelet evicts the pod.
    """
    return GcPolicy(reserved=cache_bytes // 10, max_used=cache_bytes * 8 // 10, min_free=cache_bytes * 2 // 10)


def default_max_parallelism(cpu_limit: Decimal) -> int:
    """One build step per CPU of the limit, rounded up: more only thrashes a throttled container."""
    return max(1, math.ceil(cpu_limit))


def _space(value: int) -> str:
    return f'"{value // 2**20}MiB"'


def buildkitd_toml(max_parallelism: int, gc: GcPolicy) -> str:
    """buildkitd.toml: GC on with policies scaled to the cache, and a step-parallelism cap.

    The policies follow BuildKit's defaults in order (stale local contexts and
    cache mounts first, then old records, then anything unshared, then
    everything), with absolute sizes in place of percentages of a disk the
    pod does not own.
    """
    limits = f"reservedSpace = {_space(gc.reserved)}\n    maxUsedSpace = {_space(gc.max_used)}\n" + (
        f"    minFreeSpace = {_space(gc.min_free)}"
    )
    return f"""# Generated by remote-buildkit; changing it rolls the builder pod.
[worker.oci]
  gc = true
  reservedSpace = {_space(gc.reserved)}
  maxUsedSpace = {_space(gc.max_used)}
  minFreeSpace = {_space(gc.min_free)}
  max-parallelism = {max_parallelism}

  [[worker.oci.gcpolicy]]
    filters = ["type==source.local", "type==exec.cachemount", "type==source.git.checkout"]
    keepDuration = "48h"
    maxUsedSpace = {_space(gc.max_used // 8)}

  [[worker.oci.gcpolicy]]
    keepDuration = "1440h"
    {limits}

  [[worker.oci.gcpolicy]]
    {limits}

  [[worker.oci.gcpolicy]]
    all = true
    {limits}
"""


def drain_script(wait_seconds: int) -> str:
    """preStop: wait (at most ``wait_seconds``) until buildkitd has no build in progress.

    A build in progress is a history record still in state STARTED. Errors from
    buildctl count as "nothing to wait for", so a broken daemon never holds a
    node drain for the whole grace period.
    """
    return (
        f"deadline=$(( $(date +%s) + {wait_seconds} )); "
        'while [ "$(date +%s)" -lt "$deadline" ]; do '
        "active=$(buildctl debug histories --format '{{.Type}}' 2>/dev/null | grep -c STARTED); "
        '[ "${active:-0}" -eq 0 ] && exit 0; '
        "sleep 5; "
        "done; exit 0"
    )


#: Time buildkitd gets after the drain to stop on its own before the kubelet kills it.
SHUTDOWN_SECONDS = 20


def drain_seconds(grace_period_seconds: int) -> int:
    return max(0, grace_period_seconds - SHUTDOWN_SECONDS)


def scrape_annotations(metrics_port: int | None) -> dict[str, str]:
    """The conventional Prometheus pod annotations, when the metrics listener is on."""
    if not metrics_port:
        return {}
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(metrics_port), "prometheus.io/path": "/metrics"}
