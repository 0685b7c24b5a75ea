"""``remote-buildkit``: set up and check ``docker buildx`` from the stack's outputs.

pulumi stack output --json --show-secrets | remote-buildkit buildx --apply
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from remote_buildkit.client import doctor
from remote_buildkit.client.buildx import buildx_commands
from remote_buildkit.client.files import write_bundle
from remote_buildkit.client.outputs import OutputsError, StackOutputs, ci_secret_document, parse_outputs

BAD_INPUT = 2
DEFAULT_BUILDER = "remote-buildkit"
DEFAULT_SECRET = "REMOTE_BUILDKIT"  # noqa: S105 - the name of a CI secret, not a secret


class UsageError(Exception):
    """A one-line problem with what the user gave us."""


def _read_outputs(path: str | None) -> StackOutputs:
    if path:
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise UsageError(f"cannot read --outputs {path}: {error.strerror}") from None
    else:
        if sys.stdin.isatty():
            raise UsageError(
                "no stack outputs: pipe `pulumi stack output --json --show-secrets` or pass --outputs FILE"
            )
        text = sys.stdin.read()
    return parse_outputs(text)


def _default_certs_dir(name: str) -> Path:
    return Path.home() / ".config" / "remote-buildkit" / name


def _cmd_bundle(args: argparse.Namespace) -> int:
    paths = write_bundle(_read_outputs(args.outputs).bundle, Path(args.directory))
    for path in (paths.ca, paths.cert, paths.key):
        print(path)
    return 0


def _cmd_buildx(args: argparse.Namespace) -> int:
    outputs = _read_outputs(args.outputs)
    paths = write_bundle(outputs.bundle, Path(args.certs_dir) if args.certs_dir else _default_certs_dir(args.name))
    commands = buildx_commands(outputs, paths, args.name)
    if not args.apply:
        for command in commands:
            print(shlex.join(command))
        return 0
    if shutil.which("docker") is None:
        raise UsageError("--apply needs docker with buildx on PATH")
    subprocess.run(["docker", "buildx", "rm", args.name], check=False, capture_output=True)  # noqa: S603,S607
    for command in commands:
        print("+", shlex.join(command), file=sys.stderr)
        subprocess.run(command, check=True)  # noqa: S603
    print(
        f"builder {args.name} is ready: docker buildx build --builder {args.name} --platform "
        + ",".join(b.platform for b in outputs.builders)
        + " ..."
    )
    return 0


def _cmd_ci_secret(args: argparse.Namespace) -> int:
    document = json.dumps(ci_secret_document(_read_outputs(args.outputs)), separators=(",", ":"))
    if not args.github_repo:
        print(document)
        return 0
    gh = shutil.which("gh")
    if gh is None:
        raise UsageError(
            "--github-repo needs the GitHub CLI (gh) on PATH; without it, print and store the secret yourself"
        )
    subprocess.run(  # noqa: S603
        [gh, "secret", "set", args.secret_name, "--repo", args.github_repo], input=document, text=True, check=True
    )
    print(f"stored {args.secret_name} in {args.github_repo}")
    return 0


def _cmd_platforms(args: argparse.Namespace) -> int:
    print(",".join(dict.fromkeys(b.platform for b in _read_outputs(args.outputs).builders)))
    return 0


def _cmd_tailscale_key(args: argparse.Namespace) -> int:
    key = _read_outputs(args.outputs).tailscale_ci_auth_key
    if not key:
        raise UsageError("tailscale_ci_auth_key is missing from the stack outputs (is Tailscale enabled?)")
    print(key)
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    outputs = _read_outputs(args.outputs)
    findings = doctor.check_bundle(outputs.bundle)
    if all(f.ok for f in findings):
        for builder in outputs.builders:
            findings += doctor.check_builder(builder, outputs.bundle, timeout=args.timeout)
    for finding in findings:
        print(finding)
    return doctor.exit_code(findings)


def _cmd_render(args: argparse.Namespace) -> int:
    try:
        from remote_buildkit.offline.render import RenderError, render
    except ImportError as error:
        raise UsageError(
            f"render runs the Pulumi program and needs its dependencies ({error.name} is missing): "
            "pip install -r requirements.txt"
        ) from None
    try:
        written = render(Path(args.project_dir), args.stack, Path(args.out))
    except RenderError as error:
        raise UsageError(str(error)) from None
    print(f"rendered {len(written)} files to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remote-buildkit",
        description="Set up and check docker buildx from a remote-buildkit stack's outputs "
        "(`pulumi stack output --json --show-secrets`).",
    )
    parser.add_argument("--outputs", metavar="FILE", help="stack outputs JSON (default: standard input)")
    commands = parser.add_subparsers(dest="command", required=True)

    bundle = commands.add_parser("bundle", help="write ca.pem, cert.pem, key.pem (mode 0600) to DIR")
    bundle.add_argument("directory", metavar="DIR")
    bundle.set_defaults(run=_cmd_bundle)

    buildx = commands.add_parser("buildx", help="print (or run) docker buildx create, one node per platform")
    buildx.add_argument("--name", default=DEFAULT_BUILDER, help=f"buildx builder name (default {DEFAULT_BUILDER})")
    buildx.add_argument("--certs-dir", help="where to write the bundle (default ~/.config/remote-buildkit/NAME)")
    buildx.add_argument("--apply", action="store_true", help="run the commands instead of printing them")
    buildx.set_defaults(run=_cmd_buildx)

    ci_secret = commands.add_parser("ci-secret", help="print one JSON document with everything CI needs")
    ci_secret.add_argument("--github-repo", metavar="OWNER/REPO", help="store it with `gh secret set`")
    ci_secret.add_argument("--secret-name", default=DEFAULT_SECRET, help=f"(default {DEFAULT_SECRET})")
    ci_secret.set_defaults(run=_cmd_ci_secret)

    platforms = commands.add_parser("platforms", help="print the builders' platforms, comma-separated")
    platforms.set_defaults(run=_cmd_platforms)

    tailscale_key = commands.add_parser("tailscale-key", help="print the CI auth key for joining the tailnet")
    tailscale_key.set_defaults(run=_cmd_tailscale_key)

    render = commands.add_parser("render", help="write every Kubernetes object the stack would deploy, offline")
    render.add_argument("--stack", default="dev", help="the stack whose Pulumi.<stack>.yaml to use (default dev)")
    render.add_argument("--out", default="render", help="output directory (default render/)")
    render.add_argument("--project-dir", default=".", help="the Pulumi project directory (default .)")
    render.set_defaults(run=_cmd_render)

    check = commands.add_parser("doctor", help="check the bundle and every builder; non-zero exit on a problem")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per network step (default 10)")
    check.set_defaults(run=_cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except (UsageError, OutputsError) as error:
        print(f"remote-buildkit: {error}", file=sys.stderr)
        return BAD_INPUT
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        print(f"remote-buildkit: cannot write{where}: {error.strerror or error}", file=sys.stderr)
        return BAD_INPUT
    except subprocess.CalledProcessError as error:
        print(f"remote-buildkit: {shlex.join(map(str, error.cmd))} exited with {error.returncode}", file=sys.stderr)
        return error.returncode or 1
    return code
