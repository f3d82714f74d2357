"""What authentication (and TLS) cost per call: CPU of every cluster process (issue 15).

    .venv/bin/python benchmarks/auth_overhead.py [--calls 3000] [--rounds 3] [--rows tasks-sync,...] [--tls]

The same runs as benchmarks/events_overhead.py (whose ``compare`` this
imports: one fresh embedded cluster per row, setting and round, settings
interleaved, ``POLYRAY_SPIN_US=0``, CPU user + system of the driver, the head
and the workers per call, and ops/s), flipping ``POLYRAY_AUTH_MODE``: the
cluster token (``token``, the default) against ``disabled``. With ``--tls``
a third setting runs the token with ``POLYRAY_USE_TLS=1`` and a throwaway
CA from ``polyray tls generate`` (gRPC and the push port over mutual TLS);
the ratios printed are always token / disabled, and tls / disabled is in the
JSON. docs/security.md, "Cost", has the figures. On a loaded machine these
runs spread more than the 5% target; benchmarks/auth_parts.py bounds the cost
by parts instead (calls and hellos per op counted, each check timed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from events_overhead import ROWS, compare  # noqa: E402  (after the path setup above)

AUTH = {"token": {"POLYRAY_AUTH_MODE": "token", "POLYRAY_USE_TLS": "0"},
        "disabled": {"POLYRAY_AUTH_MODE": "disabled", "POLYRAY_USE_TLS": "0"}}


def tls_env(dest: str) -> dict[str, str]:
    """The variables `polyray tls generate dest` prints, with POLYRAY_USE_TLS=1 and the token."""
    out = subprocess.run([sys.executable, "-m", "polyray.cli", "tls", "generate", dest], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    env = {"POLYRAY_AUTH_MODE": "token"}
    for line in out.splitlines():
        if line.startswith("export "):
            k, _, v = line.removeprefix("export ").partition("=")
            env[k] = v
    assert env.get("POLYRAY_USE_TLS") == "1" and "POLYRAY_TLS_CA_CERT" in env, out
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=3000, help="calls per row and setting (async rows: whole batches)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--tls", action="store_true", help="also run the token over TLS")
    p.add_argument("--json", help="write every run's figures here")
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args(argv)
    rows = [r for r in args.rows.split(",") if r]
    for r in rows:
        if r not in ROWS:
            p.error(f"unknown row {r!r}; rows: {', '.join(ROWS)}")
    with tempfile.TemporaryDirectory(prefix="polyray-auth-overhead-") as tmp:
        settings = dict(AUTH)
        if args.tls:
            # token, tls, disabled: the printed ratio stays token (first) over disabled (last).
            settings = {"token": AUTH["token"], "tls": tls_env(os.path.join(tmp, "tls")),
                        "disabled": AUTH["disabled"]}
        data = compare(rows, args.calls, args.rounds, settings, args.timeout)
    if args.tls:
        for row, s in data["summary"].items():
            tls, off = s["tls"], s["disabled"]
            s["tls_cpu_ratio"] = tls["total"] / off["total"] if off["total"] else float("nan")
            s["tls_ops_ratio"] = tls["ops_s"] / off["ops_s"] if off["ops_s"] else float("nan")
            print(f"{row:12} tls/disabled: CPU per call x{s['tls_cpu_ratio']:.3f}, ops/s x{s['tls_ops_ratio']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
