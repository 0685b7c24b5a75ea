"""``remote-buildkit render``: every Kubernetes object the program would deploy, as reviewable YAML, offline.

The program runs on the offline engine in preview mode, with the config from
``Pulumi.<stack>.yaml``: values providers generate (keys, certificates, auth
keys) and what is derived from them show as ``<computed>``, as in ``pulumi
preview`` of a new stack, so the output depends only on the code and config. Secret values and ``secure:``
config values never appear; stable file names, sorted keys and integral
numbers as integers make ``git diff`` between two renders show only real
changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi.errors import RunError
from pulumi.output import Unknown

from remote_buildkit.layout import CERT_HASH_ANNOTATION
from remote_buildkit.offline import tls_provider
from remote_buildkit.offline.engine import STAND_IN_PREFIX, TAILNET_KEY, DeclaredResource, Evaluation, evaluate

COMPUTED = "<computed>"
REDACTED = "<redacted>"
SUMMARY_FILE = "summary.yaml"
HEADER = "# Rendered offline by `remote-buildkit render`; edit the program or Pulumi.<stack>.yaml, not this file.\n"


class RenderError(ValueError):
    """The project or stack file cannot be rendered; the first line says why."""


@dataclass(frozen=True)
class StackFile:
    project: str
    config: dict[str, str]
    secret_keys: tuple[str, ...]


def _redact_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict) and set(value) == {"secure"}:
        return REDACTED, True
    if isinstance(value, dict):
        pairs = {k: _redact_secure(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_redact_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _config_text(value: Any) -> str:
    """Config as the CLI hands it to a program: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def load_stack_file(project_dir: Path, stack: str) -> StackFile:
    """The project name from ``Pulumi.yaml`` and the config of ``Pulumi.<stack>.yaml``, secure values redacted."""
    try:
        project_doc = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    except OSError as error:
        raise RenderError(f"cannot read {project_dir / 'Pulumi.yaml'}: {error.strerror}") from None
    project = str(project_doc["name"])
    stack_path = project_dir / f"Pulumi.{stack}.yaml"
    try:
        stack_doc = yaml.safe_load(stack_path.read_text()) or {}
    except OSError as error:
        raise RenderError(f"cannot read {stack_path}: {error.strerror}") from None
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, raw in (stack_doc.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        value, secret = _redact_secure(raw)
        config[full_key] = _config_text(value)
        if secret:
            secret_keys.append(full_key)
    return StackFile(project=project, config=config, secret_keys=tuple(secret_keys))


def normalize(value: Any) -> Any:
    """Plain YAML-ready data: generated values as a placeholder, integral floats as ints, no nulls."""
    if isinstance(value, Unknown) or (isinstance(value, str) and STAND_IN_PREFIX in value):
        return COMPUTED
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def _redact(value: Any) -> Any:
    """Keep the shape (keys of a Secret's data), hide every leaf value."""
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return COMPUTED if value == COMPUTED else REDACTED


def manifest(resource: DeclaredResource) -> dict[str, Any]:
    """The Kubernetes object as the program declared it, with secret inputs redacted."""
    body = normalize(resource.inputs)
    for key in resource.secret_inputs:
        if key in body:
            body[key] = _redact(body[key])
    if resource.type == "kubernetes:core/v1:Secret":
        for key in ("data", "stringData"):
            if key in body:
                body[key] = _redact(body[key])
    annotations = body.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
    if CERT_HASH_ANNOTATION in annotations:
        # A hash of the server certificate, which exists only once the stack is deployed.
        annotations[CERT_HASH_ANNOTATION] = COMPUTED
    return dict(body)


def object_file_name(body: Mapping[str, Any]) -> str:
    metadata = body.get("metadata", {})
    group = str(body.get("apiVersion", "")).split("/")[0] if "/" in str(body.get("apiVersion", "")) else "core"
    namespace = metadata.get("namespace") or "cluster"
    return f"{namespace}_{body['kind']}.{group}_{metadata['name']}.yaml".lower()


def _dependency(evaluation: Evaluation, resource: DeclaredResource, types: tuple[str, ...]) -> DeclaredResource | None:
    by_urn = {r.urn: r for r in evaluation.resources}
    found = [by_urn[u] for u in resource.dependencies if u in by_urn and by_urn[u].type in types]
    return found[0] if found else None


def _certificate_summary(evaluation: Evaluation, cert: DeclaredResource) -> dict[str, Any]:
    inputs = normalize(cert.inputs)
    names = inputs
    issuer = "self-signed"
    if cert.type == tls_provider.LOCALLY_SIGNED_CERT:
        csr = _dependency(evaluation, cert, (tls_provider.CERT_REQUEST,))
        names = normalize(csr.inputs) if csr else {}
        ca = _dependency(evaluation, cert, (tls_provider.SELF_SIGNED_CERT, tls_provider.LOCALLY_SIGNED_CERT))
        issuer = ca.name if ca else COMPUTED
    return {
        "name": cert.name,
        "issuer": issuer,
        "subject": names.get("subject", {}),
        "dnsNames": names.get("dnsNames", []),
        "ipAddresses": names.get("ipAddresses", []),
        "allowedUses": inputs.get("allowedUses", []),
        "isCa": bool(inputs.get("isCaCertificate", False)),
        "validityHours": inputs.get("validityPeriodHours"),
        "earlyRenewalHours": inputs.get("earlyRenewalHours"),
    }


def summary(evaluation: Evaluation, stack: str) -> dict[str, Any]:
    """Everything that is not a Kubernetes object: certificates, keys, tailnet keys, stack outputs; no key material."""
    certificates = [
        _certificate_summary(evaluation, r)
        for r in evaluation.resources
        if r.type in (tls_provider.SELF_SIGNED_CERT, tls_provider.LOCALLY_SIGNED_CERT)
    ]
    private_keys = [
        {
            "name": r.name,
            **{k: v for k, v in normalize(r.inputs).items() if k in ("algorithm", "ecdsaCurve", "rsaBits")},
        }
        for r in evaluation.of_type(tls_provider.PRIVATE_KEY)
    ]
    flags = ("description", "ephemeral", "reusable", "preauthorized", "tags", "expiry", "recreateIfInvalid")
    tailnet_keys = [
        {"name": r.name, **{k: v for k, v in normalize(r.inputs).items() if k in flags}}
        for r in evaluation.of_type(TAILNET_KEY)
    ]
    outputs = {
        name: "<secret>" if output.secret else normalize(output.value) for name, output in evaluation.outputs.items()
    }
    return {
        "stack": stack,
        "outputs": outputs,
        "certificates": sorted(certificates, key=lambda c: str(c["name"])),
        "privateKeys": sorted(private_keys, key=lambda k: str(k["name"])),
        "tailnetKeys": sorted(tailnet_keys, key=lambda k: str(k["name"])),
    }


def _dump(document: Any) -> str:
    return HEADER + yaml.safe_dump(document, sort_keys=True, default_flow_style=False, width=120, allow_unicode=True)


def render_files(evaluation: Evaluation, stack: str) -> dict[str, str]:
    """File name → content for one evaluation: one file per Kubernetes object, plus the summary."""
    files: dict[str, str] = {}
    for resource in evaluation.resources:
        if not resource.type.startswith("kubernetes:"):
            continue
        body = manifest(resource)
        name = object_file_name(body)
        if name in files:
            raise RenderError(f"two objects render to {name}")
        files[name] = _dump(body)
    files[SUMMARY_FILE] = _dump(summary(evaluation, stack))
    return dict(sorted(files.items()))


def render(project_dir: Path, stack: str, out_dir: Path) -> list[Path]:
    """Evaluate the program for ``stack`` offline and write the rendered tree to ``out_dir``."""
    stack_file = load_stack_file(project_dir, stack)
    try:
        evaluation = evaluate(
            project_dir / "__main__.py",
            stack_file.config,
            project=stack_file.project,
            stack=stack,
            secret_keys=stack_file.secret_keys,
            preview=True,
        )
    except RunError as error:
        # The program's own plain error (bad config): every line names a key, no traceback.
        raise RenderError(f"Pulumi.{stack}.yaml: {error}") from None
    files = render_files(evaluation, stack)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.yaml"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written
