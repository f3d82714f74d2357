"""The push port (python/polyray/core/push_port.py, docs/protocol.md §7.2):
Python callers push tasks to Python workers over it, the gRPC PushTasks
stays available, and bad input on the port ends one connection, not the worker."""

from __future__ import annotations

import os
import socket
import textwrap

import pytest
from core_util import run_driver

import polyray
from polyray.protocol import auth


@polyray.remote
def _port_info():
    from polyray.core.object_ref import get_core
    core = get_core()
    listener = core.push_listener
    return (os.getpid(), core.address.push_port,
            listener.port if listener else 0, listener.accepted if listener else 0)


@polyray.remote
class _Counter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n

    def port_info(self):
        from polyray.core.object_ref import get_core
        core = get_core()
        return core.address.push_port, core.push_listener.accepted


def test_tasks_reach_python_workers_over_the_push_port(cluster):
    pid, advertised, listening, accepted = polyray.get(_port_info.remote(), timeout=60)
    assert advertised == listening and advertised > 0
    assert accepted >= 1, "the task did not come over the worker's push port"
    # Many tasks, results in order, several batches on the same connections.
    refs = [_port_info.remote() for _ in range(200)]
    assert all(r[1] > 0 for r in polyray.get(refs, timeout=60))


def test_actor_calls_keep_their_order_over_the_push_port(cluster):
    c = _Counter.remote()
    refs = [c.add.remote(1) for _ in range(500)]
    assert polyray.get(refs, timeout=60) == list(range(1, 501))
    port, accepted = polyray.get(c.port_info.remote(), timeout=60)
    assert port > 0 and accepted >= 1


def _closed_by_peer(sock: socket.socket, timeout: float = 10.0) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _hello() -> bytes:
    body = auth.hello_body()
    return len(body).to_bytes(4, "little") + body


@pytest.mark.parametrize("garbage", [
    b"\xff\xff\xff\x7f",                        # a frame longer than any message may be
    (5).to_bytes(4, "little") + b"\xff" * 5,    # a frame that is not a PushTasksRequest
], ids=["oversized", "not-protobuf"])
def test_a_bad_frame_ends_its_connection_and_the_worker_stays_up(cluster, garbage):
    c = _Counter.remote()
    assert polyray.get(c.add.remote(1), timeout=60) == 1
    port, _ = polyray.get(c.port_info.remote(), timeout=60)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_hello() + garbage)  # the cluster token first: the garbage reaches the frame reader
        assert _closed_by_peer(s), "the worker kept a connection that sent a bad frame"
    assert polyray.get(c.add.remote(1), timeout=60) == 2


def test_a_caller_that_disconnects_mid_frame_does_not_hurt_the_worker(cluster):
    c = _Counter.remote()
    port, _ = polyray.get(c.port_info.remote(), timeout=60)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_hello() + (1000).to_bytes(4, "little") + b"\x0a")  # half a frame, then gone
    assert polyray.get(c.add.remote(5), timeout=60) == 5


def test_with_the_push_port_turned_off_tasks_use_grpc(tmp_path):
    source = textwrap.dedent("""
        import os, polyray

        @polyray.remote
        def info():
            from polyray.core.object_ref import get_core
            core = get_core()
            return core.address.push_port, core.push_listener is None

        @polyray.remote
        class A:
            def m(self, x):
                return x * 2

        polyray.init(num_cpus=1)
        a = A.remote()
        print(polyray.get(info.remote(), timeout=60), polyray.get([a.m.remote(i) for i in range(50)], timeout=60)[-1])
        polyray.shutdown()
    """)
    off = run_driver(tmp_path, source, env={"POLYRAY_PUSH_PORT": "0"})
    assert off.returncode == 0, off.stderr
    assert off.stdout.split("\n")[0] == "(0, True) 98"
    on = run_driver(tmp_path, source)
    assert on.returncode == 0, on.stderr
    assert on.stdout.split("\n")[0].endswith(", False) 98") and not on.stdout.startswith("(0,")
