"""Job submission latencies against a running head (not a test; docs/jobs.md "Figures").

    python tests/jobs/measure_latency.py DASHBOARD_URL [N]

Submits ``true`` N times (submit -> SUCCEEDED), then ``exec sleep 60`` N times
(submit -> RUNNING, then stop -> STOPPED), polling the REST every 5 ms.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request
from typing import Any

from polyray.protocol import auth


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    tok = auth.current_token()

    def call(method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body else None, method=method)
        if tok:
            req.add_header("Authorization", f"Bearer {tok}")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def until(sid: str, states: tuple[str, ...]) -> None:
        while call("GET", f"/api/jobs/{sid}")["status"] not in states:
            time.sleep(0.005)

    done, run, stop = [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        sid = call("POST", "/api/jobs/", {"entrypoint": "true"})["submission_id"]
        until(sid, ("SUCCEEDED",))
        done.append(time.perf_counter() - t0)
    for _ in range(n):
        t0 = time.perf_counter()
        sid = call("POST", "/api/jobs/", {"entrypoint": "exec sleep 60"})["submission_id"]
        until(sid, ("RUNNING",))
        run.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        call("POST", f"/api/jobs/{sid}/stop")
        until(sid, ("STOPPED",))
        stop.append(time.perf_counter() - t1)
    for name, xs in (("submit -> SUCCEEDED (true)", done), ("submit -> RUNNING", run),
                     ("stop -> STOPPED (SIGTERM)", stop)):
        xs = sorted(xs)
        print(f"{name}: median {statistics.median(xs) * 1000:.1f} ms, "
              f"p90 {xs[max(0, int(len(xs) * 0.9) - 1)] * 1000:.1f} ms, n={len(xs)}")


if __name__ == "__main__":
    main()
