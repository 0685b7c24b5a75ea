"""How long the program takes to evaluate, against the floor of importing the Pulumi SDKs it uses.

Each measurement is a fresh interpreter, so imports are paid every time, as
they are on every `pulumi preview` and `pulumi up`. The program runs on the
offline engine (real key generation and signing included); the floor imports
exactly the SDK modules the program uses and nothing else.

    .venv/bin/python benchmarks/evaluate.py [--runs 7] [--builders 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FLOOR = """
import pulumi
import pulumi_kubernetes.apps.v1
import pulumi_kubernetes.core.v1
import pulumi_kubernetes.meta.v1
import pulumi_kubernetes.networking.v1
import pulumi_kubernetes.rbac.v1
import pulumi_tailscale
import pulumi_tls
"""

EVALUATE = """
import json, sys
from pathlib import Path
from remote_buildkit.offline.engine import evaluate
builders = [{{"name": f"b{{i}}", "platform": "linux/arm64" if i % 2 else "linux/amd64"}} for i in range({count})]
evaluation = evaluate(Path({program!r}), {{"remote-buildkit:builders": json.dumps(builders)}})
assert len(evaluation.output("builders")) == {count}
"""


def _seconds(code: str) -> float:
    """CPU time (user + system) of one fresh interpreter running ``code``.

    CPU time, not wall time: on a shared two-core machine wall time swings with
    whatever else runs, while the work the interpreter does stays the same.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)  # noqa: S603 - our own fixed snippets
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _medians(programs: dict[str, str], runs: int) -> dict[str, float]:
    """Median per program, the programs interleaved run by run so that drift hits all alike."""
    for code in programs.values():
        _seconds(code)  # warm the file system cache; not counted
    samples: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(runs):
        for name, code in programs.items():
            samples[name].append(_seconds(code))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--builders", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    programs = {"import floor": FLOOR}
    for count in args.builders:
        label = f"{count} builder{'s' if count > 1 else ''}"
        programs[label] = EVALUATE.format(count=count, program=str(REPO / "__main__.py"))
    medians = _medians(programs, args.runs)
    floor = medians["import floor"]
    rows = [(label, seconds, seconds / floor) for label, seconds in medians.items()]
    if args.json:
        print(json.dumps({label: {"cpu_s": round(s, 3), "x_floor": round(r, 2)} for label, s, r in rows}, indent=2))
        return
    print(f"median CPU time of {args.runs} fresh interpreters each (Python {sys.version.split()[0]})")
    print(f"{'':16} {'seconds':>8} {'x floor':>8}")
    for label, seconds, ratio in rows:
        print(f"{label:16} {seconds:8.3f} {ratio:8.2f}")


if __name__ == "__main__":
    main()
