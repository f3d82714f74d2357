"""C++ SDK: an actor goes when its last handle goes (issue 17), deterministic with the
handle's copies: a real C++ driver (tests/api/cpp_src/lifetime_driver.cc) joined to the
test's cluster owns a Python actor; dropping one of two copies keeps it, a Python actor
the driver handed the handle to keeps it, and when the last holder lets go its process
ends and it is DEAD with REASON_OUT_OF_SCOPE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

sys.path.insert(0, HERE)
from lifetime_support import GONE_S, MODULE, destroyed_within  # noqa: E402
from lifetime_support import actor_info as _state  # noqa: E402
from lifetime_support import alive as _alive  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the driver


class Driver:
    def __init__(self, exe: str, address: str, path: str) -> None:
        self.proc = subprocess.Popen([exe, address, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def ask(self, command: str) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the driver ended (exit {self.proc.poll()}) at {command!r}"
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("exit")
            except (AssertionError, BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def test_cpp_handle_copies_and_a_python_borrower(cluster, tmp_path):
    exe = build_cpp("lifetime_driver", [os.path.join(HERE, "cpp_src", "lifetime_driver.cc")], "exe")
    (tmp_path / "lifetime_mod.py").write_text(MODULE)
    d = Driver(exe, cluster["address"], str(tmp_path))
    try:
        made = d.ask("make")
        pid, aid = made["pid"], made["actor_id"]
        assert d.ask("drop_copy")["ok"]
        time.sleep(1.5)
        assert _alive(pid) and _state(aid).state == gcs.ALIVE, "the other copy keeps it"
        assert d.ask("give")["kept"] == 1
        assert d.ask("drop")["ok"]
        time.sleep(1.5)
        assert _alive(pid) and _state(aid).state == gcs.ALIVE, "the Python actor's borrow keeps it"
        assert d.ask("keeper_drop")["ok"]
        took = destroyed_within(pid, aid)
        assert took is not None, f"actor {aid} still alive={_alive(pid)} after {GONE_S} s"
        assert _state(aid).death_cause.reason == pb.REASON_OUT_OF_SCOPE
    finally:
        d.close()
