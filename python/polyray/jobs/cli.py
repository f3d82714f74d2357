"""``polyray job ...``: submit, status, logs, stop, list, delete over the jobs REST API.

    polyray job submit [--address A] [--submission-id ID] [--working-dir DIR] [--runtime-env-json JSON]
                       [--metadata-json JSON] [--entrypoint-num-cpus N] [--entrypoint-num-gpus N]
                       [--entrypoint-memory BYTES] [--entrypoint-resources JSON] [--no-wait] -- COMMAND...
    polyray job status|logs [--follow]|stop [--no-wait] [--grace-s S]|delete ID [--address A]
    polyray job list [--address A] [--format table|json]

``--address``: the dashboard URL or the GCS host:port (client.resolve_dashboard).
``submit`` uploads ``--working-dir`` and the runtime env's local paths to the
GCS from here (polyray.runtime_env.upload_packages), then waits and streams
the job's log until it ends (unless ``--no-wait``): exit 0 when SUCCEEDED, 1
when FAILED or STOPPED.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import JobClient


class UsageError(RuntimeError):
    """A bad argument, said before anything is sent."""


def _client(address: str | None) -> JobClient:
    from .client import JobClient  # grpc and the protocol load only when a job command runs
    return JobClient(address)

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
#: ``stop`` waits this long past the grace period for the job to end.
STOP_WAIT_EXTRA_S = 30.0


def _json_arg(text: str | None, flag: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise UsageError(f"{flag} is not JSON: {e}") from None


def _entrypoint(tokens: list[str]) -> str:
    if tokens and tokens[0] == "--":
        tokens = tokens[1:]
    if not tokens:
        raise UsageError("give the entrypoint after --, e.g. polyray job submit -- python script.py")
    # One token is a shell command as written ("echo a; echo b"); several are quoted as argv.
    return tokens[0] if len(tokens) == 1 else shlex.join(tokens)


def _stream(client: JobClient, sid: str) -> None:
    out = sys.stdout.buffer
    for chunk in client.tail(sid):
        out.write(chunk)
        out.flush()


def _final(client: JobClient, sid: str) -> int:
    info = client.info(sid)
    status = info["status"]
    print(f"Job '{sid}' {status.lower()}" + (f": {info['message']}" if status != "SUCCEEDED" else ""),
          file=sys.stderr)
    return 0 if status == "SUCCEEDED" else 1


def cmd_submit(args: argparse.Namespace) -> int:
    client = _client(args.address)
    runtime_env = _json_arg(args.runtime_env_json, "--runtime-env-json") or {}
    if not isinstance(runtime_env, dict):
        raise UsageError("--runtime-env-json must be a JSON object")
    if args.working_dir:
        runtime_env["working_dir"] = args.working_dir
    if runtime_env:
        # As Ray's CLI: local folders and files are uploaded from the client, once, content-addressed.
        from polyray import runtime_env as rte
        gcs = client.version().get("gcs_address")
        if not gcs:
            raise UsageError("the dashboard did not say where its GCS is; cannot upload the runtime env")
        try:
            runtime_env = rte.upload_packages(runtime_env, gcs)
        except (ValueError, ConnectionError) as e:
            raise UsageError(f"runtime env: {e}") from None
    sid = client.submit(
        _entrypoint(args.entrypoint), submission_id=args.submission_id, runtime_env=runtime_env or None,
        metadata=_json_arg(args.metadata_json, "--metadata-json"), entrypoint_num_cpus=args.entrypoint_num_cpus,
        entrypoint_num_gpus=args.entrypoint_num_gpus, entrypoint_memory=args.entrypoint_memory,
        entrypoint_resources=_json_arg(args.entrypoint_resources, "--entrypoint-resources"))
    print(f"Job '{sid}' submitted successfully", file=sys.stderr)
    if args.no_wait:
        print(sid)
        print(f"Query its status with `polyray job status {sid}`, its logs with `polyray job logs {sid} --follow`",
              file=sys.stderr)
        return 0
    _stream(client, sid)
    return _final(client, sid)


def cmd_status(args: argparse.Namespace) -> int:
    info = _client(args.address).info(args.job_id)
    print(f"Status for job '{args.job_id}': {info['status']}")
    if info.get("message"):
        print(f"Status message: {info['message']}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    client = _client(args.address)
    if args.follow:
        _stream(client, args.job_id)
    else:
        sys.stdout.write(client.logs(args.job_id))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    client = _client(args.address)
    stopped = client.stop(args.job_id, args.grace_s)
    if not stopped:
        print(f"Job '{args.job_id}' had already ended: {client.info(args.job_id)['status']}", file=sys.stderr)
        return 0
    print(f"Stopping job '{args.job_id}'", file=sys.stderr)
    if args.no_wait:
        return 0
    deadline = time.monotonic() + (args.grace_s or 3.0) + STOP_WAIT_EXTRA_S
    while time.monotonic() < deadline:
        status = client.info(args.job_id)["status"]
        if status in TERMINAL:
            print(f"Job '{args.job_id}' {status.lower()}", file=sys.stderr)
            return 0
        time.sleep(0.2)
    print(f"Job '{args.job_id}' did not end in time", file=sys.stderr)
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    jobs = _client(args.address).list()
    if args.format == "json":
        print(json.dumps(jobs, indent=2))
        return 0
    cols = ("submission_id", "job_id", "type", "status", "entrypoint")
    rows = [[str(j.get(c) if j.get(c) is not None else "") for c in cols] for j in jobs]
    rows = [[r[0], r[1], r[2], r[3], r[4][:60]] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)).rstrip())
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    _client(args.address).delete(args.job_id)
    print(f"Job '{args.job_id}' deleted", file=sys.stderr)
    return 0


def _run(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except Exception as e:
            from .client import JobClientError
            if not isinstance(e, (JobClientError, UsageError)):
                raise
            print(f"polyray job: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
    return run


def add_job_command(sub: argparse._SubParsersAction) -> None:
    """``polyray job``: its subcommands."""
    job = sub.add_parser("job", help="submit a job to the cluster, and see, follow, stop, list or delete jobs")
    jsub = job.add_subparsers(dest="job_command", required=True)

    def addr(p: argparse.ArgumentParser) -> None:
        p.add_argument("--address", help="the dashboard URL (http://host:8265) or the GCS host:port "
                                         "(default: POLYRAY_DASHBOARD_ADDRESS, POLYRAY_ADDRESS, the head started here)")

    s = jsub.add_parser("submit", help="run COMMAND on the head as a job; waits and streams its log unless --no-wait")
    addr(s)
    s.add_argument("--submission-id")
    s.add_argument("--working-dir", help="a local folder (or .zip): uploaded, and the entrypoint's cwd on the head")
    s.add_argument("--runtime-env-json", help="the job's runtime_env as JSON")
    s.add_argument("--metadata-json", help="string metadata as a JSON object")
    s.add_argument("--entrypoint-num-cpus", type=float)
    s.add_argument("--entrypoint-num-gpus", type=float)
    s.add_argument("--entrypoint-memory", type=int)
    s.add_argument("--entrypoint-resources", help="JSON object of resource -> amount")
    s.add_argument("--no-wait", action="store_true", help="print the submission id and return")
    s.add_argument("entrypoint", nargs=argparse.REMAINDER, help="-- COMMAND...")
    s.set_defaults(fn=_run(cmd_submit))
    for name, fn, helptext in (("status", cmd_status, "a job's status and message"),
                               ("logs", cmd_logs, "a job's log (--follow: until it ends)"),
                               ("stop", cmd_stop, "stop a job (SIGTERM, SIGKILL after the grace period)"),
                               ("delete", cmd_delete, "forget a job that has ended, and its log")):
        p = jsub.add_parser(name, help=helptext)
        p.add_argument("job_id", help="the submission id (or the driver's job id)")
        addr(p)
        if name == "logs":
            p.add_argument("--follow", "-f", action="store_true")
        if name == "stop":
            p.add_argument("--no-wait", action="store_true")
            p.add_argument("--grace-s", type=float, help="seconds between SIGTERM and SIGKILL (default: the head's)")
        p.set_defaults(fn=_run(fn))
    ls = jsub.add_parser("list", help="submitted jobs and driver jobs")
    addr(ls)
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(fn=_run(cmd_list))
