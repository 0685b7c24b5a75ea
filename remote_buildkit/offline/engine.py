"""Run the real Pulumi program with no CLI, no cluster and no network, and record what it declared.

Pulumi's own mock engine (``pulumi.runtime.set_mocks``) drives the program. On
top of it this engine:

* answers pulumi-tls resources with real keys and certificates
  (:mod:`remote_buildkit.offline.tls_provider`);
* answers Kubernetes and Tailscale resources the way their providers do for
  the fields the program reads back (inputs echoed, ids, generated keys);
* marks ``additional_secret_outputs`` as secrets, as the real engine does;
* records every registration in order, with which inputs arrived as secrets,
  and resolves the stack outputs with their secretness.
"""

from __future__ import annotations

import asyncio
import datetime
import runpy
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from remote_buildkit.offline import tls_provider

TAILNET_KEY = "tailscale:index/tailnetKey:TailnetKey"
STAND_IN_PREFIX = "<computed:"
#: Provider-generated outputs, per resource type, that a preview replaces with stand-ins.
COMPUTED_FIELDS: dict[str, tuple[str, ...]] = {
    tls_provider.PRIVATE_KEY: ("privateKeyPem", "privateKeyPemPkcs8", "publicKeyPem", "publicKeyFingerprintSha256"),
    tls_provider.CERT_REQUEST: ("certRequestPem",),
    tls_provider.SELF_SIGNED_CERT: ("certPem", "validityStartTime", "validityEndTime"),
    tls_provider.LOCALLY_SIGNED_CERT: ("certPem", "validityStartTime", "validityEndTime"),
    TAILNET_KEY: ("key", "createdAt", "expiresAt"),
}


@dataclass
class DeclaredResource:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    parent_urn: str
    custom: bool
    #: Inputs with secret wrappers removed.
    inputs: dict[str, Any]
    #: Top-level input names that arrived as Pulumi secrets.
    secret_inputs: frozenset[str]
    outputs: dict[str, Any]
    #: Outputs the program asked the engine to treat as secrets.
    additional_secret_outputs: frozenset[str]
    dependencies: tuple[str, ...]


@dataclass
class StackOutput:
    value: Any
    secret: bool


@dataclass
class Evaluation:
    """Everything one program run declared, in registration order, and its stack outputs."""

    resources: list[DeclaredResource] = field(default_factory=list)
    outputs: dict[str, StackOutput] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[DeclaredResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> DeclaredResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources are named {name!r}")
        return matches[0]

    def output(self, name: str) -> Any:
        return self.outputs[name].value


def _unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """Strip Pulumi's secret wrappers, telling whether any were found."""
    if rpc.is_rpc_secret(value):
        inner, _ = _unwrap_secrets(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, dict):
        found = False
        plain = {}
        for key, item in value.items():
            plain[key], secret = _unwrap_secrets(item)
            found = found or secret
        return plain, found
    if isinstance(value, list):
        items = [_unwrap_secrets(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


class OfflineMocks(pulumi.runtime.Mocks):
    """Provider behaviour for the resource types the program uses."""

    def __init__(self, now: datetime.datetime | None = None, preview: bool = False) -> None:
        self.now = now
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = args.inputs  # secret wrappers already removed by RecordingMonitor
        if self.preview and args.typ in COMPUTED_FIELDS:
            # What the provider would generate is replaced by a stand-in naming it, so a
            # preview depends only on code and config and is the same every time.
            stand_ins = {field: f"{STAND_IN_PREFIX}{args.name}.{field}>" for field in COMPUTED_FIELDS[args.typ]}
            return f"{args.name}-id", {**inputs, **stand_ins}
        if args.typ in tls_provider.TYPES:
            return tls_provider.create(args.typ, inputs, self.now)
        if args.typ == TAILNET_KEY:
            key_id = "k" + secrets.token_hex(8)
            return key_id, {
                **inputs,
                "key": f"tskey-auth-{key_id}-{secrets.token_hex(16)}",
                "createdAt": "2026-01-01T00:00:00Z",
                "expiresAt": "2026-03-31T00:00:00Z",
                "invalid": False,
                "userId": "",
            }
        if args.typ.startswith("kubernetes:"):
            metadata = dict(inputs.get("metadata") or {})
            name = metadata.get("name") or f"{args.name}-{secrets.token_hex(4)}"
            metadata["name"] = name
            namespace = metadata.get("namespace")
            object_id = f"{namespace}/{name}" if namespace else name
            return object_id, {**inputs, "metadata": metadata}
        return f"{args.name}-id", dict(inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(f"the offline engine does not answer invoke {args.token}")


class RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, plus a record of registrations and the engine's secret-output marking."""

    def __init__(self, mock: OfflineMocks) -> None:
        super().__init__(mock)
        self.declared: list[DeclaredResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        """MockMonitor.RegisterResource, deserializing once and recording what was registered."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()  # type: ignore[no-untyped-call]
        raw_inputs = rpc.deserialize_properties(request.object)
        unwrapped = {key: _unwrap_secrets(value) for key, value in raw_inputs.items()}
        inputs = {key: value for key, (value, _) in unwrapped.items()}
        resource_id, state = self.mocks.new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
            )
        )
        secret_names = frozenset(request.additionalSecretOutputs)
        # As the engine does: outputs named in additional_secret_outputs come back as secrets.
        returned = {k: rpc.wrap_rpc_secret(v) if k in secret_names else v for k, v in state.items()}
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, resource_id or "", state)
        self.declared.append(
            DeclaredResource(
                type=request.type,
                name=request.name,
                urn=urn,
                parent_urn=request.parent,
                custom=bool(request.custom),
                inputs=inputs,
                secret_inputs=frozenset(key for key, (_, secret) in unwrapped.items() if secret),
                outputs=dict(state),
                additional_secret_outputs=secret_names,
                dependencies=tuple(request.dependencies),
            )
        )
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=resource_id or "", object=_sync_await(rpc.serialize_properties(returned, {}))
        )


async def _resolve(value: Any) -> StackOutput:
    output = pulumi.Output.from_input(value)
    resolved = await output.future(with_unknowns=False)
    return StackOutput(value=resolved, secret=bool(await output.is_secret()))


def evaluate(
    program: Path,
    config: Mapping[str, str],
    *,
    project: str = "remote-buildkit",
    stack: str = "dev",
    secret_keys: tuple[str, ...] = (),
    now: datetime.datetime | None = None,
    preview: bool = False,
) -> Evaluation:
    """Run the program at ``program`` (a ``__main__.py``) with ``config`` (``{"project:key": "raw string"}``).

    With ``preview``, values that providers generate (keys, certificates, auth
    keys) are stand-ins such as ``<computed:pki-root-cert.certPem>``, so the
    result depends only on the code and the config.

    Raises whatever the program raises, after recording what it had declared
    by then; :data:`last_evaluation` holds that record.
    """
    global last_evaluation
    monitor = RecordingMonitor(OfflineMocks(now, preview))
    last_evaluation = Evaluation(resources=monitor.declared)

    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root = settings.get_root_resource()
    assert isinstance(root, pulumi.runtime.stack.Stack)

    program_dir = str(program.parent.resolve())
    if program_dir not in sys.path:
        sys.path.insert(0, program_dir)

    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    _sync_await(run_pulumi_func(run))

    async def resolve_all() -> dict[str, StackOutput]:
        names = list(root.outputs)
        values = await asyncio.gather(*(_resolve(root.outputs[n]) for n in names))
        return dict(zip(names, values, strict=True))

    last_evaluation.outputs = _sync_await(resolve_all())
    return last_evaluation


last_evaluation: Evaluation = Evaluation()
