"""Upload a runtime env's local folders and print it with package URIs.

    python -m polyray.runtime_env --address HOST:PORT '{"working_dir": "."}'

For Java and C++ drivers, which do not upload themselves: pass the printed
JSON as ``-Dpolyray.job.runtimeEnv=...`` (Java) or ``$POLYRAY_RUNTIME_ENV_JSON``
(both), and every node fetches the packages from the GCS. The cluster token
comes from the environment as for any client. Exit code 2 for a bad env or
an unreachable GCS, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from polyray.runtime_env.merge import canonical_json, from_json
from polyray.runtime_env.packaging import upload_packages


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, upload, print the JSON."""
    ap = argparse.ArgumentParser(prog="python -m polyray.runtime_env", description=__doc__.splitlines()[0])
    ap.add_argument("--address", default=os.environ.get("POLYRAY_ADDRESS", ""),
                    help="host:port of the GCS (default: $POLYRAY_ADDRESS)")
    ap.add_argument("runtime_env", help="the runtime env as a JSON object")
    args = ap.parse_args(argv)
    if not args.address:
        print("error: --address (or $POLYRAY_ADDRESS) is needed", file=sys.stderr)
        return 2
    try:
        env = upload_packages(from_json(args.runtime_env), args.address)
    except (ValueError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(canonical_json(env) or json.dumps({}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
