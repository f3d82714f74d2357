"""Entry point of a Python worker process: ``python -m polyray.worker``.

The raylet starts it with the POLYRAY_* environment (raylet and GCS
addresses, node, worker and job ids, the startup token, the store name). It
registers with the raylet, then runs pushed tasks on its main thread until
told to exit.
"""

from __future__ import annotations

import os
import signal
import sys


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.stderr.write(f"polyray worker: missing environment variable {name} (workers are started by a raylet)\n")
        sys.exit(2)
    return value


def _exit_with_raylet() -> None:
    """Exit when the raylet that started this worker is gone (it is our parent):
    a worker of a dead node must not linger, as in Ray."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="polyray-raylet-watch", daemon=True).start()


def _load_job_namespace(core) -> None:
    """Take the job's namespace from the GCS job table, once, before any task runs
    (get_runtime_context().namespace, get_actor and named actors in tasks use it)."""
    from polyray.core.rpc import RPC_TIMEOUT
    from polyray.protocol import gcs_pb2 as gcs
    try:
        reply = core.rpc(lambda: core.gcs.GetAllJobs(gcs.GetAllJobsRequest(), timeout=RPC_TIMEOUT),
                         timeout=RPC_TIMEOUT + 5)
    except Exception:  # noqa: BLE001 - the GCS is down: the worker cannot run tasks anyway
        return
    for job in reply.jobs:
        if job.job_id == core.job_id:
            core.ctx.namespace = job.namespace
            return


#: Set by the raylet on a standby worker (raylet/worker_pool.py): a Python
#: interpreter started before any job, which imports the runtime and then
#: waits on stdin for the environment of the worker it becomes.
STANDBY_ENV = "POLYRAY_STANDBY"


def _await_assignment() -> None:
    """A standby worker: block until the raylet writes one line, the JSON
    object of the complete environment of the worker this process becomes
    (its job, worker id, startup token...), and take it; stdin closed first
    (the raylet stopped or did not need it): exit."""
    import json

    line = sys.stdin.buffer.readline()
    if not line.strip():
        os._exit(0)
    env = json.loads(line)
    os.environ.clear()
    os.environ.update(env)
    # The one value read from the environment at import that differs per worker.
    from polyray.protocol import lease_proof
    lease_proof.GUARD = lease_proof.LeaseGuard.from_env()


def main() -> None:
    """Start the CoreWorker and serve tasks until exit."""
    # Output goes through a pipe to the raylet, which forwards it to the
    # driver: flush each line so prints show up while the task runs.
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    # Each task's output is marked in the log file (polyray logs --task-id).
    from polyray.core import task_output
    task_output.install()
    from polyray.actor import ActorHandle
    from polyray.core.core_worker import CoreWorker

    if os.environ.get(STANDBY_ENV) == "1":
        _await_assignment()
    code_search_path = [p for p in os.environ.get("POLYRAY_CODE_SEARCH_PATH", "").split(":") if p]
    for p in reversed(code_search_path):
        if p not in sys.path:
            sys.path.insert(0, p)
    core = CoreWorker(
        is_driver=False,
        gcs_address=_env("POLYRAY_GCS_ADDRESS"),
        raylet_address=_env("POLYRAY_RAYLET_ADDRESS"),
        node_id=bytes.fromhex(_env("POLYRAY_NODE_ID")),
        store_name=_env("POLYRAY_STORE_NAME"),
        job_id=bytes.fromhex(_env("POLYRAY_JOB_ID")),
        worker_id=bytes.fromhex(_env("POLYRAY_WORKER_ID")),
        host=os.environ.get("POLYRAY_NODE_IP", "127.0.0.1"),
        startup_token=os.environ.get("POLYRAY_STARTUP_TOKEN", ""),
        # Tasks this worker submits (e.g. to Java) carry the job's code search path,
        # and the runtime env this worker was started in (the raylet sets the variable).
        code_search_path=code_search_path,
        runtime_env=os.environ.get("POLYRAY_RUNTIME_ENV_JSON", ""),
    )
    core.actor_handle_factory = ActorHandle
    # exit() in an actor method is an intended exit (as Ray's exit_actor): dead, not restarted.
    core.executor.on_actor_exit = lambda actor_id: core.kill_actor(actor_id, True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    _exit_with_raylet()
    core.start()
    try:
        core.ensure_job_path(core.job_id)
    except Exception:
        pass
    _load_job_namespace(core)
    core.executor.run_forever(core.push_listener)
    os._exit(0)


if __name__ == "__main__":
    main()
