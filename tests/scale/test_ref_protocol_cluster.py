"""The reference protocol on a real cluster (issue 14, Deliver 1): random programs.

Hundreds of seeded random programs run against one head (2 CPUs, a 2 s idle
timeout): the driver puts values (small inline ones and 150 KB ones in the
shared store), passes refs nested in dicts to Python tasks that return them
with refs they own (puts, and a child task's return) two levels deep, to a
C++ task (``ScaleRelay``) and a Java task (``scaletest.Owners.relay``) that
return them with refs they own, and to Python
actors that keep refs in their state and later give them back *dropping
their own hold* (the pass-through a return must lend), or put values that
nest them two levels deep; it drops refs (often while the tasks that got
them still run) and reads the refs it holds. Checked:

* no premature free: every read of a held ref returns its value (an
  ``ObjectLostError`` fails the test with the program's seed);
* no leak: at the end the driver's and every actor's ReferenceCounter are
  back where they started, the node's store holds no object, and the C++
  and Java workers are reaped as idle (each refuses while its counter tracks
  anything: ``ReferenceCounter::WhyNotExit``, ``CoreWorker.whyNotExit``).
"""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import tempfile
import time

import java_support
import pytest

import polyray
import polyray.sdk
from polyray.core.object_ref import get_core
from polyray.protocol import raylet_pb2 as rl

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "xlang"))
from xlang_support import build_cpp  # noqa: E402

pytestmark = pytest.mark.timeout(600)  # the first run compiles the C++ library
PROGRAMS = 300
BIG = 150_000
IDLE_S = 2.0
TIMEOUT = 60


@polyray.remote
def leaf(v: int) -> int:
    return v


@polyray.remote
def relay(box: dict, n: int, base: int) -> dict:
    """Returns the refs it was given, refs it owns and a child's return ref, nested two levels."""
    return {"pass": list(box["refs"]), "own": [[polyray.put(base + i)] for i in range(n)],
            "child": [leaf.remote(base + n)]}


@polyray.remote
class Holder:
    def __init__(self) -> None:
        self.kept: list = []

    def keep(self, box: dict) -> int:
        self.kept.extend(box["refs"])
        return len(self.kept)

    def give(self, k: int) -> dict:
        out, self.kept = self.kept[:k], self.kept[k:]
        return {"refs": out}  # this actor's own hold goes with the return

    def nest(self, box: dict, v: int) -> list:
        return [polyray.put(v), polyray.put({"refs": list(box["refs"])})]

    def tracked(self) -> int:
        gc.collect()
        return get_core().references.num_tracked()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def _workers(head_pid: int, marker: bytes) -> set[int]:
    found, stack = set(), _children(head_pid)
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().split(")")[-1].split()[0] == "Z"
        except OSError:
            continue
        if marker in cmd and not zombie:
            found.add(pid)
        stack += _children(pid)
    return found


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:g} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    java_out = java_support.compiled_java("scale_java", os.path.join(HERE, "java_src"))
    lib = build_cpp("scale_funcs", [os.path.join(HERE, "cpp_src", "scale_funcs.cc")], "shared")
    session = tempfile.mkdtemp(prefix="polyray-refs-")
    address_file = os.path.join(session, "gcs_address")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, "python"), HERE]))
    log = open(os.path.join(session, "head.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "polyray.node", "--head", "--port", "0",
                             "--address-file", address_file, "--num-cpus", "2",
                             "--idle-worker-timeout", str(IDLE_S), "--warm-workers", "0"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        _wait(lambda: os.path.exists(address_file) and os.path.getsize(address_file) > 0, 60, "the head")
        with open(address_file) as f:
            address = f.read().strip()
        if polyray.is_initialized():
            polyray.shutdown()
        polyray.init(address=address, code_search_path=[java_out, os.path.dirname(lib)])
        yield proc.pid
    finally:
        if polyray.is_initialized():
            polyray.shutdown()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _store_objects() -> int:
    core = get_core()
    reply = core.rpc(lambda: core.connections.raylet.GetNodeStats(rl.GetNodeStatsRequest(), timeout=10))
    return reply.store_objects


def _check(ref, want, seed: int) -> None:
    try:
        got = polyray.get(ref, timeout=TIMEOUT)
    except Exception as e:  # noqa: BLE001 - any error on a held ref fails the program
        raise AssertionError(f"program {seed}: a held ref could not be read: {type(e).__name__}: {e}") from None
    if isinstance(want, tuple):  # a big value: (size, first byte)
        assert (len(got), got[0]) == want, f"program {seed}: wrong big value"
    else:
        assert got == want, f"program {seed}: {ref} is {got!r}, expected {want!r}"


def run_program(seed: int, pool: list, holders: list, kept: list[list], relay_cpp, relay_java) -> None:
    """One random program over the shared pool of (ref, expected value) the driver holds."""
    rng = random.Random(seed)
    base = seed * 1000

    def pick(k: int, ints: bool = False) -> list:
        cands = [p for p in pool if not isinstance(p[1], tuple)] if ints else pool
        return rng.sample(cands, min(k, len(cands)))

    def drop_some(items: list) -> None:
        for it in items:
            if it in pool and rng.random() < 0.5:
                pool.remove(it)

    for _ in range(rng.randint(4, 8)):
        roll = rng.random()
        base += 100
        if roll < 0.15 or len(pool) < 3:
            if rng.random() < 0.15:
                marker = rng.randrange(256)
                pool.append((polyray.put(bytes([marker]) * BIG), (BIG, marker)))
            else:
                pool.append((polyray.put(base), base))
        elif roll < 0.35:
            picked = pick(rng.randint(1, 3))
            n = rng.randint(0, 2)
            r = relay.remote({"refs": [p[0] for p in picked]}, n, base)
            drop_some(picked)  # the driver may let go while the task runs
            out = polyray.get(r, timeout=TIMEOUT)
            del r
            pool.extend(zip(out["pass"], [p[1] for p in picked]))
            pool.extend((lst[0], base + i) for i, lst in enumerate(out["own"]))
            pool.append((out["child"][0], base + n))
        elif roll < 0.5:
            picked = pick(rng.randint(1, 3), ints=True)
            n = rng.randint(0, 2)
            r = (relay_cpp if rng.random() < 0.5 else relay_java).remote([p[0] for p in picked], n, base)
            drop_some(picked)
            out = polyray.get(r, timeout=TIMEOUT)
            del r
            want = [p[1] for p in picked] + [base + i for i in range(n)]
            pool.extend(zip(out, want))
        elif roll < 0.62:
            h = rng.randrange(len(holders))
            picked = pick(rng.randint(1, 3))
            holders[h].keep.remote({"refs": [p[0] for p in picked]})
            kept[h].extend(p[1] for p in picked)
            drop_some(picked)
        elif roll < 0.74:
            h = rng.randrange(len(holders))
            k = rng.randint(1, 3)
            out = polyray.get(holders[h].give.remote(k), timeout=TIMEOUT)["refs"]
            want, kept[h][:] = kept[h][:len(out)], kept[h][len(out):]
            pool.extend(zip(out, want))
        elif roll < 0.84:
            h = rng.randrange(len(holders))
            picked = pick(rng.randint(1, 2))
            x = polyray.get(holders[h].nest.remote({"refs": [p[0] for p in picked]}, base), timeout=TIMEOUT)
            drop_some(picked)
            box = polyray.get(x[1], timeout=TIMEOUT)  # two levels down: refs in a value the actor owns
            pool.append((x[0], base))
            del x
            pool.extend(zip(box["refs"], [p[1] for p in picked]))
            del box
        else:
            for it in pick(rng.randint(1, 4)):
                pool.remove(it)
        if rng.random() < 0.3:
            for ref, want in pick(3):
                _check(ref, want, seed)
    # Every program leaves the pool small: drop at random down to a few refs.
    while len(pool) > 12:
        pool.pop(rng.randrange(len(pool)))


def test_random_programs_on_a_cluster_free_nothing_held_and_leak_nothing(head):
    core = get_core()
    gc.collect()
    holders = [Holder.remote() for _ in range(3)]
    assert polyray.get([h.tracked.remote() for h in holders], timeout=TIMEOUT) == [0, 0, 0]
    gc.collect()
    driver_before = core.references.num_tracked()
    relay_cpp = polyray.cpp_function("ScaleRelay")
    relay_java = polyray.java_function("scaletest.Owners", "relay")
    pool: list = []
    kept: list[list] = [[] for _ in holders]
    started = time.monotonic()
    for seed in range(PROGRAMS):
        run_program(seed, pool, holders, kept, relay_cpp, relay_java)
    took = time.monotonic() - started
    # Read every ref still held, then let go of everything, the actors' state too.
    for ref, want in pool:
        _check(ref, want, -1)
    for h, model in zip(holders, kept):
        out = polyray.get(h.give.remote(len(model) + 10), timeout=TIMEOUT)["refs"]
        for ref, want in zip(out, model):
            _check(ref, want, -1)
        del out
    pool.clear()
    del ref, want
    gc.collect()
    print(f"{PROGRAMS} random programs in {took:.1f} s")
    _wait(lambda: polyray.get([h.tracked.remote() for h in holders], timeout=TIMEOUT) == [0, 0, 0],
          20, "every actor's ReferenceCounter back to empty")
    try:
        _wait(lambda: (gc.collect() or True) and core.references.num_tracked() == driver_before,
              20, f"the driver's ReferenceCounter back to {driver_before} objects")
    except AssertionError:
        left = {oid.hex()[:12]: core.references.snapshot(oid) for oid in list(core.references._refs)[:10]}
        raise AssertionError(f"the driver still counts {core.references.num_tracked()} objects: {left}") from None
    _wait(lambda: _store_objects() == 0, 20, "the node's store empty")
    # The C++ and Java workers refuse to leave as idle while their counters track anything.
    _wait(lambda: not _workers(head, b"polyray_cpp_worker"), 8 * IDLE_S + 10,
          "the C++ worker reaped as idle (its counter empty)")
    _wait(lambda: not _workers(head, b"io.polyray.runtime.WorkerMain"), 8 * IDLE_S + 10,
          "the Java worker reaped as idle (its counter empty)")
