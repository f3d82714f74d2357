"""A stand-in for ``python -m polyray.worker`` in the raylet tests.

Reads the POLYRAY_* environment, serves a minimal CoreWorkerService, calls
RegisterWorker, prints "fake worker ready pid=N" on stdout, then waits until
its raylet goes away. FAKE_WORKER_MODE changes that:

    crash  write to stderr and exit with code 3 before registering
    hang   never register
    exit   exit with code 7 right after registering

FAKE_WORKER_LANGUAGE=N registers as that Language (default PYTHON).
FAKE_WORKER_PIN=<object id hex> pins that object of the node's store after
registering (and prints "pinned"). FAKE_WORKER_LINES=N prints N numbered
lines on stdout and stderr after registering (after the name marker line
of FAKE_WORKER_NAME, when set).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent import futures

import grpc

from polyray.protocol import auth, common_pb2, core_worker_pb2, core_worker_pb2_grpc, raylet_pb2, raylet_pb2_grpc


class _CoreWorker(core_worker_pb2_grpc.CoreWorkerServiceServicer):
    def Exit(self, request, context):  # noqa: N802
        os._exit(0)
        return core_worker_pb2.ExitReply(accepted=True)


def main() -> int:
    mode = os.environ.get("FAKE_WORKER_MODE", "normal")
    parent = os.getppid()
    if mode == "crash":
        print("fake worker: cannot import the user's module (on purpose)", file=sys.stderr, flush=True)
        return 3
    if mode == "hang":
        print("fake worker: stuck before registering", file=sys.stderr, flush=True)
        while os.getppid() == parent:
            time.sleep(0.1)
        return 0

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    core_worker_pb2_grpc.add_CoreWorkerServiceServicer_to_server(_CoreWorker(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with auth.channel(os.environ["POLYRAY_RAYLET_ADDRESS"]) as channel:
        reply = raylet_pb2_grpc.RayletServiceStub(channel).RegisterWorker(
            raylet_pb2.RegisterWorkerRequest(
                worker_id=bytes.fromhex(os.environ["POLYRAY_WORKER_ID"]),
                language=int(os.environ.get("FAKE_WORKER_LANGUAGE", common_pb2.PYTHON)),
                pid=os.getpid(),
                port=port,
                job_id=bytes.fromhex(os.environ["POLYRAY_JOB_ID"]),
                startup_token=os.environ["POLYRAY_STARTUP_TOKEN"],
            ),
            timeout=10,
        )
    print(f"fake worker ready pid={os.getpid()}", flush=True)
    if mode == "exit":
        return 7

    held = []
    pin = os.environ.get("FAKE_WORKER_PIN")
    if pin:
        from polyray.store import Store

        store = Store.open(reply.store_name)
        held = store.get([bytes.fromhex(pin)], timeout=5)
        print("pinned" if held[0] is not None else "not found", flush=True)
    name = os.environ.get("FAKE_WORKER_NAME")
    if name:  # as a real worker says what it runs (task_executor.OUTPUT_NAME_MARKER)
        print(f":polyray_name:{name}", flush=True)
    for i in range(int(os.environ.get("FAKE_WORKER_LINES", "0"))):
        print(f"out line {i}", flush=True)
        print(f"err line {i}", file=sys.stderr, flush=True)

    # A worker lives as long as its raylet.
    while os.getppid() == parent:
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
