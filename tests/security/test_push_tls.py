"""The push port under TLS (POLYRAY_USE_TLS=1, docs/security.md "TLS"), and the
dashboard over HTTPS.

One head started with certificates from `polyray tls generate`. A Python, a
Java and a C++ driver (one test each) join it and run sync loops of Python,
Java and C++ tasks, then call a Python, a Java and a C++ actor. Meanwhile the
test watches the driver's TCP connections: the calls must have gone to the
workers' push ports (not only their gRPC ports). Each actor worker's push
port is then probed from outside: a plaintext client and TLS clients without
a certificate or with one from another CA get no answer (closed at the
handshake), a TLS client with the cluster's certificate and the token is
answered, and the actors still answer the driver afterwards.
"""

from __future__ import annotations

import os
import queue
import secrets
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import psutil
import pytest
from test_auth_matrix import _frame, _hello, _listening_ports, _unknown_task
from xlang_support import build_cpp, cpp_lib, xlang_java_classes  # noqa: F401 — fixtures

from polyray import sdk
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import gcs_pb2, gcs_pb2_grpc, raylet_pb2, raylet_pb2_grpc

pytestmark = pytest.mark.timeout(300)
HERE = os.path.dirname(os.path.abspath(__file__))
LANGS = {"py": pb.PYTHON, "java": pb.JAVA, "cpp": pb.CPP}
#: A line from a driver takes at most this long (worker starts, a loaded machine).
LINE_TIMEOUT = 120

TLS_MOD = '''
"""Python callees of the push-TLS drivers."""


def plus1(x):
    return x + 1


class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n
'''

PY_DRIVER = textwrap.dedent('''
    import sys, time
    import polyray
    sys.path.insert(0, sys.argv[2])
    import tls_mod

    info = polyray.init(address=sys.argv[1], code_search_path=sys.argv[2:], log_to_driver=False)
    T = 60
    plus1 = polyray.remote(tls_mod.plus1)
    jadd = polyray.java_function("xlangtest.Calc", "add")
    cplus1 = polyray.cpp_function("Plus1")
    calls = {"py": lambda i: polyray.get(plus1.remote(i), timeout=T),
             "java": lambda i: polyray.get(jadd.remote(i, 1), timeout=T),
             "cpp": lambda i: polyray.get(cplus1.remote(i), timeout=T)}
    print("ready", info["dashboard_url"], flush=True)
    for lang, call in calls.items():
        call(0)  # the worker starts here, not inside the loop
        print("loop", lang, flush=True)
        n, last, end = 0, 0, time.monotonic() + 1.5
        while time.monotonic() < end:
            last = call(n)
            n += 1
        print("done", lang, n, last, flush=True)
    actors = (polyray.remote(tls_mod.Counter).remote(),
              polyray.java_actor_class("xlangtest.Counter").remote(10),
              polyray.cpp_actor_class("Counter::Create", "Counter").remote(0))

    def call_actors(label):
        got = polyray.get([actors[0].add.remote(1), actors[1].increment.remote(1), actors[2].Add.remote(1)],
                          timeout=T)
        print(label, *got, flush=True)

    call_actors("actors")
    sys.stdin.readline()
    call_actors("again")
    polyray.shutdown()
    print("DONE", flush=True)
''')

JAVA_DRIVER = '''
package tlstest;

import io.polyray.api.ActorHandle;
import io.polyray.api.CppActorClass;
import io.polyray.api.CppActorHandle;
import io.polyray.api.CppActorMethod;
import io.polyray.api.CppFunction;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import io.polyray.api.PyFunction;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongUnaryOperator;
import xlangtest.Calc;
import xlangtest.Counter;

public final class TlsDriver {
  static final long T = 60_000;

  public static void main(String[] args) throws Exception {
    List<String> path = new ArrayList<>(Arrays.asList(args).subList(1, args.length));
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(path).setLogToDriver(false));
    System.out.println("ready");
    System.out.flush();
    Map<String, LongUnaryOperator> calls = new LinkedHashMap<>();
    calls.put("py", i -> PolyRay.get(PolyRay.task(PyFunction.of("tls_mod", "plus1", Long.class), i).remote(), T));
    calls.put("java", i -> PolyRay.get(PolyRay.task(Calc::add, i, 1L).remote(), T));
    calls.put("cpp", i -> PolyRay.get(PolyRay.task(CppFunction.of("Plus1", Long.class), i).remote(), T));
    for (Map.Entry<String, LongUnaryOperator> e : calls.entrySet()) {
      e.getValue().applyAsLong(0);
      System.out.println("loop " + e.getKey());
      System.out.flush();
      long n = 0;
      long last = 0;
      long end = System.nanoTime() + 1_500_000_000L;
      while (System.nanoTime() < end) {
        last = e.getValue().applyAsLong(n++);
      }
      System.out.println("done " + e.getKey() + " " + n + " " + last);
      System.out.flush();
    }
    PyActorHandle py = PolyRay.actor(PyActorClass.of("tls_mod", "Counter")).remote();
    ActorHandle<Counter> java = PolyRay.actor(Counter::new, 10L).remote();
    CppActorHandle cpp = PolyRay.actor(CppActorClass.of("Counter::Create", "Counter"), 0L).remote();
    for (String label : new String[] {"actors", "again"}) {
      if (label.equals("again")) {
        new BufferedReader(new InputStreamReader(System.in)).readLine();
      }
      long a = PolyRay.get(py.task(PyActorMethod.of("add", Long.class), 1L).remote(), T);
      long b = PolyRay.get(java.task(Counter::increment, 1L).remote(), T);
      long c = PolyRay.get(cpp.task(CppActorMethod.of("Counter::Add", Long.class), 1L).remote(), T);
      System.out.println(label + " " + a + " " + b + " " + c);
      System.out.flush();
    }
    PolyRay.shutdown();
    System.out.println("DONE");
  }
}
'''


def _generate(dest: Path) -> dict[str, str]:
    gen = subprocess.run([sys.executable, "-m", "polyray.cli", "tls", "generate", str(dest)],
                         capture_output=True, text=True, timeout=60)
    assert gen.returncode == 0, gen.stderr
    out = {}
    for line in gen.stdout.splitlines():
        k, _, v = line.removeprefix("export ").partition("=")
        out[k] = v
    return out


class Head:
    def __init__(self, address: str, env: dict[str, str], root: Path, other: dict[str, str], log: Path) -> None:
        self.address = address
        self.env = env
        self.root = root
        self.other = other
        self.log = log
        self.token = env["POLYRAY_AUTH_TOKEN"]

    def client_context(self, cert: tuple[str, str] | None) -> ssl.SSLContext:
        """A TLS client trusting the cluster's CA, presenting ``cert`` (certificate, key) or none."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.env["POLYRAY_TLS_CA_CERT"])
        if cert is not None:
            ctx.load_cert_chain(*cert)
        return ctx

    def channel(self, target: str) -> grpc.Channel:
        read = lambda var: Path(self.env[var]).read_bytes()  # noqa: E731
        creds = grpc.ssl_channel_credentials(read("POLYRAY_TLS_CA_CERT"), read("POLYRAY_TLS_SERVER_KEY"),
                                             read("POLYRAY_TLS_SERVER_CERT"))
        return grpc.secure_channel(target, creds)

    def workers(self) -> list[tuple[int, int, int, int, bool]]:
        """(language, pid, gRPC port, push port) of every worker of the node, and whether it holds an actor."""
        md = (("authorization", "Bearer " + self.token),)
        with self.channel(self.address) as ch:
            nodes = gcs_pb2_grpc.GcsServiceStub(ch).GetAllNodes(gcs_pb2.GetAllNodesRequest(), metadata=md,
                                                                 timeout=30).nodes
        raylet = nodes[0].raylet_address
        with self.channel(f"{raylet.host}:{raylet.port}") as ch:
            stats = raylet_pb2_grpc.RayletServiceStub(ch).GetNodeStats(raylet_pb2.GetNodeStatsRequest(),
                                                                       metadata=md, timeout=30)
        out = []
        for w in stats.workers:
            if not w.port:
                continue
            push = sorted(_listening_ports(w.pid) - {w.port})
            out.append((w.language, w.pid, w.port, push[0] if push else 0, bool(w.actor_id)))
        return out


@pytest.fixture(scope="module")
def tls_head(tmp_path_factory, cpp_lib, xlang_java_classes):  # noqa: F811
    root = tmp_path_factory.mktemp("push_tls")
    env = dict(os.environ)
    env.update(_generate(root / "tls"))
    other = _generate(root / "other")  # another CA and a node certificate it signed
    env["POLYRAY_AUTH_TOKEN"] = secrets.token_hex(32)
    env["POLYRAY_PYTHON"] = sys.executable
    for var in ("POLYRAY_ADDRESS", "POLYRAY_PUSH_PORT", "POLYRAY_AUTH_MODE", "POLYRAY_AUTH_TOKEN_PATH"):
        env.pop(var, None)
    (root / "py").mkdir()
    (root / "py" / "tls_mod.py").write_text(TLS_MOD)
    address_file = root / "address"
    log = root / "head.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "2",
                                 "--dashboard-port", "0", "--address-file", str(address_file)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the head did not start within 60 s:\n" + log.read_text()
            time.sleep(0.05)
        yield Head(address_file.read_text().strip(), env, root, other, log)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _driver_cmd(kind: str, head: Head, cpp_lib: str, java_classes: str) -> list[str]:  # noqa: F811
    args = [head.address, str(head.root / "py"), cpp_lib, java_classes]
    if kind == "python":
        script = head.root / "driver.py"
        script.write_text(PY_DRIVER)
        return [sys.executable, str(script), *args]
    if kind == "java":
        src = head.root / "java" / "tlstest" / "TlsDriver.java"
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(JAVA_DRIVER)
        out = head.root / "java" / "classes"
        cp = ":".join(sdk.java_classpath() + [java_classes])
        subprocess.run(["javac", "-cp", cp, "-d", str(out), str(src)], check=True, capture_output=True, timeout=300)
        return ["java", "-cp", f"{cp}:{out}", "tlstest.TlsDriver", *args]
    exe = build_cpp("push_tls_driver", [os.path.join(HERE, "cpp_src", "push_tls_driver.cc")], "exe")
    return [exe, *args]


class Lines:
    """A process's stdout lines, read on a thread, each waited for with a limit."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def poll(self) -> str | None:
        try:
            line = self._q.get_nowait()
        except queue.Empty:
            return None
        return self._record(line)

    def next(self, timeout: float = LINE_TIMEOUT) -> str:
        try:
            line = self._q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout} s after {self.seen}") from None
        return self._record(line)

    def _record(self, line: str | None) -> str:
        if line is None:
            raise AssertionError(f"the driver ended (exit {self.proc.wait(30)}) after {self.seen}")
        self.seen.append(line)
        return line


def _remote_ports(pid: int) -> set[int]:
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {c.raddr.port for c in conns if c.raddr and c.status == psutil.CONN_ESTABLISHED}


def _recv_exact(s: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def _probe_plaintext(port: int, token: str, language: int) -> str:
    """A client that speaks no TLS: what the push port does with its hello and task."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        try:
            s.sendall(_hello(token) + _frame(cw.PushTasksRequest(tasks=[_unknown_task(language)])))
            got = b""
            while chunk := s.recv(1 << 16):
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            return "closed"
        except TimeoutError:
            return "hung"
    # Nothing, or a TLS alert record (type 21): never a reply frame.
    return "closed" if not got or got[0] == 21 else f"answered {len(got)} bytes"


def _probe_tls(port: int, ctx: ssl.SSLContext, token: str, language: int) -> str:
    """A TLS client with ``ctx``: 'served N' when a reply frame came back, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(_hello(token) + _frame(cw.PushTasksRequest(tasks=[_unknown_task(language)])))
                head = _recv_exact(s, 4)
                if len(head) < 4:
                    return "closed"
                body = _recv_exact(s, int.from_bytes(head, "little"))
                return f"served {len(cw.PushTasksReply.FromString(body).results)}"
    except ssl.SSLError as e:
        return f"refused ({e.reason})"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except TimeoutError:
        return "hung"


@pytest.mark.parametrize("kind", ["python", "java", "cpp"])
def test_push_ports_speak_tls_from_every_driver(tls_head, kind, cpp_lib, xlang_java_classes):  # noqa: F811
    cmd = _driver_cmd(kind, tls_head, cpp_lib, xlang_java_classes)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=tls_head.env, start_new_session=True)
    errors: list[str] = []
    threading.Thread(target=lambda: errors.extend(proc.stderr or ()), daemon=True).start()
    lines = Lines(proc)
    try:
        ready = lines.next().split()
        assert ready[0] == "ready", ready
        if kind == "python":  # what init() returns names the dashboard's HTTPS URL
            assert ready[1].startswith("https://127.0.0.1:"), ready
        used: dict[str, set[int]] = {}
        # Push ports of every worker seen while the loops ran: a loop's worker
        # may be gone by the end (idle workers past the pool's size are ended).
        seen_workers: set[tuple[int, int, int, int, bool]] = set()
        for lang in LANGS:
            assert lines.next() == f"loop {lang}"
            ports: set[int] = set()
            deadline = time.monotonic() + LINE_TIMEOUT
            while (line := lines.poll()) is None:
                assert time.monotonic() < deadline, f"no 'done {lang}' within {LINE_TIMEOUT} s: {lines.seen}"
                now = _remote_ports(proc.pid)
                if now - ports:  # a new peer: note the workers alive now, the loop's among them
                    seen_workers.update(tls_head.workers())
                ports |= now
                time.sleep(0.02)
            _, got_lang, n, last = line.split()
            assert got_lang == lang and int(n) > 0 and last == n, line
            used[lang] = ports
        assert lines.next() == "actors 1 11 1"
        workers = tls_head.workers()
        conns = _remote_ports(proc.pid)
        seen_workers.update(workers)
        for lang, language in LANGS.items():
            push = {w[3] for w in seen_workers if w[0] == language and w[3]}
            grpc_ports = {w[2] for w in seen_workers if w[0] == language}
            assert used[lang] & push, (f"{kind} driver -> {lang} tasks: no connection to a push port "
                                       f"{sorted(push)} (talked to {sorted(used[lang])}, gRPC {sorted(grpc_ports)})")
        # The actors' push connections stay open while the driver holds them.
        actor_push = {}
        for language, _pid, _port, push, is_actor in workers:
            if is_actor and push in conns:
                actor_push[language] = push
        assert set(actor_push) == set(LANGS.values()), (f"{kind} driver: actor calls not over push ports: "
                                                        f"{workers} vs {sorted(conns)}")
        node = (tls_head.env["POLYRAY_TLS_SERVER_CERT"], tls_head.env["POLYRAY_TLS_SERVER_KEY"])
        foreign = (tls_head.other["POLYRAY_TLS_SERVER_CERT"], tls_head.other["POLYRAY_TLS_SERVER_KEY"])
        for language, port in sorted(actor_push.items()):
            token = tls_head.token
            probes = {
                "plaintext": _probe_plaintext(port, token, language),
                "no certificate": _probe_tls(port, tls_head.client_context(None), token, language),
                "another CA": _probe_tls(port, tls_head.client_context(foreign), token, language),
                "wrong token": _probe_tls(port, tls_head.client_context(node), "0" * 64, language),
                "cluster certificate": _probe_tls(port, tls_head.client_context(node), token, language),
            }
            print(kind, pb.Language.Name(language), probes)
            assert probes["plaintext"] == "closed", probes
            for refused in ("no certificate", "another CA", "wrong token"):
                assert not probes[refused].startswith("served") and probes[refused] != "hung", probes
            assert probes["cluster certificate"] == "served 1", probes
        proc.stdin.write("\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        assert lines.next() == "again 2 12 2"
        assert lines.next() == "DONE"
        assert proc.wait(60) == 0
    except BaseException:
        proc.kill()
        proc.wait(10)
        print("stderr of the driver:\n" + "".join(errors)[-4000:])
        raise


def test_the_dashboard_serves_https_only_under_tls(tls_head):
    deadline = time.monotonic() + 30
    url = ""
    while not url and time.monotonic() < deadline:
        for line in tls_head.log.read_text().splitlines():
            if line.startswith("DASHBOARD_URL="):
                url = line.partition("=")[2]
        time.sleep(0.1)
    assert url.startswith("https://127.0.0.1:"), tls_head.log.read_text()
    ctx = ssl.create_default_context(cafile=tls_head.env["POLYRAY_TLS_CA_CERT"])
    req = urllib.request.Request(url + "/api/v0/nodes", headers={"Authorization": "Bearer " + tls_head.token})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        assert r.status == 200
    # Without the token: 401 over HTTPS (the token still gates it).
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "/api/v0/nodes", context=ctx, timeout=30)
    assert e.value.code == 401
    # Plain HTTP on the same port is not served.
    plain = "http://" + url.removeprefix("https://") + "/api/v0/nodes"
    req = urllib.request.Request(plain, headers={"Authorization": "Bearer " + tls_head.token})
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)) as e2:
        urllib.request.urlopen(req, timeout=30).read()
    assert not isinstance(e2.value, urllib.error.HTTPError) or e2.value.code == 400, e2.value
    printed = [ln for ln in tls_head.log.read_text().splitlines() if ln.startswith("dashboard: ")]
    assert printed and printed[0].startswith("dashboard: https://"), printed
