"""Nodes and drivers that join a cluster need its token: without one they stop at
start saying where they looked; with a wrong one they are refused
(docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def head(tmp_path):
    address_file = tmp_path / "gcs_address"
    proc = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0", "--num-cpus", "1",
                             "--address-file", str(address_file), "--parent-pid", str(os.getpid()),
                             "--session-dir", str(tmp_path / "logs")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the head did not start"
            time.sleep(0.05)
        yield address_file.read_text().strip()
    finally:
        proc.terminate()
        proc.wait(30)


def _env(tmp_path, **changes: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYRAY_AUTH")}
    env["HOME"] = str(tmp_path / "elsewhere")  # another machine: no default token file
    env.update(changes)
    return env


def test_a_node_without_the_token_stops_saying_where_it_looked(head, tmp_path):
    done = subprocess.run([sys.executable, "-m", "polyray.node", "--address", head, "--num-cpus", "1"],
                          capture_output=True, text=True, timeout=60, env=_env(tmp_path))
    assert done.returncode != 0
    assert "no polyray auth token" in done.stderr and "POLYRAY_AUTH_TOKEN" in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "elsewhere" / ".polyray").exists(), "a joining node created a token"


def test_a_node_with_a_wrong_token_is_refused(head, tmp_path):
    done = subprocess.run([sys.executable, "-m", "polyray.node", "--address", head, "--num-cpus", "1"],
                          capture_output=True, text=True, timeout=60,
                          env=_env(tmp_path, POLYRAY_AUTH_TOKEN="not-the-token"))
    assert done.returncode != 0
    assert "UNAUTHENTICATED" in done.stderr, done.stderr[-2000:]


def test_a_driver_with_the_token_from_the_path_joins_and_one_without_is_refused(head, tmp_path):
    from polyray.protocol import auth
    token_file = tmp_path / "copied_token"
    token_file.write_text(auth.current_token() + "\n")
    code = ("import polyray\n"
            f"polyray.init(address={head!r})\n"
            "@polyray.remote\n"
            "def f(x):\n"
            "    return x * 2\n"
            "print('result', polyray.get(f.remote(21), timeout=60))\n"
            "polyray.shutdown()\n")
    ok = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                        env=_env(tmp_path, POLYRAY_AUTH_TOKEN_PATH=str(token_file)))
    assert "result 42" in ok.stdout, ok.stderr[-2000:]
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=_env(tmp_path, POLYRAY_AUTH_TOKEN="0" * 64))
    assert bad.returncode != 0 and "UNAUTHENTICATED" in bad.stderr, bad.stderr[-2000:]
