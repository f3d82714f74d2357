"""The Python push port's TLS in process (python/polyray/core/push_port.py with
auth.TlsPipe): a real PushListener served by a selector thread, real
PushConnection callers on an asyncio loop, real certificates from `polyray tls
generate` (and a second CA). No cluster: the worker's executor answers each
task at once (or after a pause)."""

from __future__ import annotations

import asyncio
import selectors
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_auth_matrix import _frame, _hello, _unknown_task

from polyray.core.push_port import PushConnection, PushListener, PushStreamError
from polyray.protocol import auth
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw

pytestmark = pytest.mark.timeout(120)
TOKEN = "t" * 64


def _generate(dest: Path) -> dict[str, str]:
    gen = subprocess.run([sys.executable, "-m", "polyray.cli", "tls", "generate", str(dest)],
                         capture_output=True, text=True, timeout=60)
    assert gen.returncode == 0, gen.stderr
    return dict(line.removeprefix("export ").split("=", 1) for line in gen.stdout.splitlines())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    root = tmp_path_factory.mktemp("push_tls_unit")
    return _generate(root / "good"), _generate(root / "other")


class Worker:
    """A PushListener on a selector thread; tasks are answered by ``answer``."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.listener = PushListener(host="127.0.0.1", worker_id=b"w" * 28, settle_borrows=lambda: None,
                                     exiting=lambda: False, exit_soon=lambda: None)
        self.delay_s = delay_s
        self.ran = 0
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self.listener.attach(self._sel, self._accept)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _accept(self, spec: pb.TaskSpec, reply) -> None:
        self.ran += 1
        result = cw.TaskResult(task_id=spec.task_id)
        if self.delay_s:
            threading.Timer(self.delay_s, reply, args=(result,)).start()
        else:
            reply(result)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(0.05):
                key.data()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.listener.close()


def _use(monkeypatch, files: dict[str, str]) -> None:
    monkeypatch.setenv("POLYRAY_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("POLYRAY_AUTH_MODE", raising=False)
    for k, v in files.items():
        monkeypatch.setenv(k, v)


async def _call(port: int, n: int = 1, close_at_once: bool = False) -> list[bytes]:
    """Push ``n`` tasks on one connection; the task ids answered. Raises PushStreamError."""
    got: list[bytes] = []
    conn = PushConnection("127.0.0.1", port, lambda reply: got.extend(r.task_id for r in reply.results))
    specs = []
    for i in range(n):
        spec = _unknown_task(pb.PYTHON)
        spec.task_id = bytes([i]) * 24
        specs.append(spec)
    conn.put_nowait(specs)
    if close_at_once:
        conn.put_nowait(None)  # half-close with every result outstanding
    else:
        while len(got) < n and not conn._closed:  # a refused stream ends below with its error
            await asyncio.sleep(0.01)
        conn.put_nowait(None)
    async for _ in conn:
        pass
    return got


def _run(coro, timeout: float = 30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def tls_worker(certs, monkeypatch):
    """Starts a worker's push port with TLS on and the cluster's certificates (the
    test's own calls use them too); every worker started is closed after the test."""
    workers: list[Worker] = []

    def start(delay_s: float = 0.0) -> Worker:
        _use(monkeypatch, certs[0])
        w = Worker(delay_s=delay_s)
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.close()


def test_tasks_and_results_cross_a_tls_push_connection(tls_worker):
    w = tls_worker()
    assert w.listener.tls is not None
    assert _run(_call(w.listener.port, 3)) == [bytes([i]) * 24 for i in range(3)]
    assert w.ran == 3


def test_a_half_close_with_results_outstanding_still_gets_them(tls_worker):
    w = tls_worker(delay_s=0.2)
    assert sorted(_run(_call(w.listener.port, 2, close_at_once=True))) == [bytes([i]) * 24 for i in range(2)]


#: Callers the port refuses: (who, their settings against the cluster's, what the error says).
#: "other:" values are the files of another CA's certificates; None unsets the variable.
REFUSED_CALLERS = [
    ("a plaintext caller (TLS off on its side): its stream fails, it does not hang",
     {"POLYRAY_USE_TLS": None}, ""),
    ("a caller whose certificate another CA signed (it trusts ours)",
     {"POLYRAY_TLS_SERVER_CERT": "other:", "POLYRAY_TLS_SERVER_KEY": "other:"}, ""),
    ("a caller that trusts another CA refuses the worker", {"POLYRAY_TLS_CA_CERT": "other:"}, "TLS"),
]


def test_plaintext_and_foreign_certificates_are_refused_and_the_port_keeps_serving(certs, tls_worker, monkeypatch):
    good, other = certs
    w = tls_worker()
    port = w.listener.port
    for who, settings, says in REFUSED_CALLERS:
        _use(monkeypatch, good)
        for key, value in settings.items():
            if value is None:
                monkeypatch.delenv(key)
            else:
                monkeypatch.setenv(key, other[key] if value == "other:" else value)
        with pytest.raises(PushStreamError, match=says or None):
            _run(_call(port))
        assert w.ran == 0, f"{who}: its task ran"
    # A raw TLS client without a certificate: no reply frame, the connection closes.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=good["POLYRAY_TLS_CA_CERT"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            try:
                s.sendall(_hello(TOKEN) + _frame(cw.PushTasksRequest(tasks=[_unknown_task(pb.PYTHON)])))
                assert s.recv(100) == b""
            except ssl.SSLError as e:
                assert "certificate" in str(e).lower(), e
    assert w.ran == 0, "a refused caller's task ran"
    # The port still serves the cluster's certificate.
    _use(monkeypatch, good)
    assert _run(_call(port)) == [bytes([0]) * 24]
    assert w.ran == 1


def test_a_silent_client_does_not_block_the_worker_thread(tls_worker):
    w = tls_worker()
    with socket.create_connection(("127.0.0.1", w.listener.port), timeout=10):
        time.sleep(0.2)  # connected, says nothing: the selector thread goes on serving others
        assert _run(_call(w.listener.port), timeout=20) == [bytes([0]) * 24]


def test_the_dashboard_context_needs_no_client_certificate(certs, monkeypatch):
    good, _ = certs
    _use(monkeypatch, good)
    ctx = auth.https_ssl_context()
    assert ctx.verify_mode == ssl.CERT_NONE
    assert auth.push_ssl_context(True).verify_mode == ssl.CERT_REQUIRED
    assert auth.push_ssl_context(False).verify_mode == ssl.CERT_REQUIRED
    monkeypatch.setenv("POLYRAY_TLS_SERVER_KEY", "/nonexistent/key.pem")
    with pytest.raises(auth.AuthError, match="POLYRAY_TLS_SERVER_KEY"):
        auth.push_ssl_context(True)
