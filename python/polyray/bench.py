"""polyray's microbenchmark: the rows of Ray's ``ray microbenchmark``, same names, same shapes.

    python -m polyray.bench [--filter SUBSTRING] [--repeat N] [--duration SECONDS] [--json OUT]
    polyray microbenchmark  [same options]

Each row runs a small workload (a ``get``, a batch of 1000 tasks, a batch of
actor calls, ...) in a loop for ``--duration`` seconds, ``--repeat`` times
after a warm-up of the same length, and prints the rate (ops/s, or GB/s for
the gigabyte rows, GB = 10^9 bytes) as ``mean ± stdev`` over the runs (the
population stdev, as Ray's ``timeit`` prints it). The workloads follow Ray's
``python/ray/_private/ray_perf.py``; the large ones are scaled down by
default so the whole run takes a few minutes on a 2-core machine, and
``--ray-sizes`` restores Ray's sizes (see ``SIZES`` and docs/performance.md).

"multi client" rows use several driver-like clients that submit work
themselves, shaped as in Ray: the two put rows use tasks that put, "multi
client tasks async" uses actors that submit tasks, "1:n" uses an actor that
calls n actors, "n:n" uses tasks that call the actors.

Cross-language rows ("Python -> Java ...", "Python -> C++ ...", "Java ->
Python ...", "C++ -> Python ...") call callees in benchmarks/xlang/, compiled
on first use into build/bench/ (a JDK and the built C++ SDK: `make setup`);
``--no-xlang`` skips them.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import polyray
from polyray.bench_build import build_cpp_driver, build_cpp_target, build_java_driver, build_java_target, driver_runs

GB = 1e9
# Every get of the driver has this deadline: a lost task fails its row
# (reported, exit code 1) instead of hanging the whole run.
GET_TIMEOUT = 120.0

# Workload sizes. "ray" is what ray_perf.py uses; "default" keeps each row a
# few seconds on a 2-core machine. Rates are per operation either way, but a
# smaller batch amortises less fixed cost, so compare like with like.
SIZES: dict[str, dict[str, int]] = {
    "default": {
        "batch": 1000,                 # tasks / actor calls per batch (Ray: 1000)
        "put_large_bytes": 200 * 1024 * 1024,       # single client put gigabytes: one array (Ray: 800 MiB)
        "multi_put_tasks": 4,          # multi client put gigabytes: tasks ... (Ray: 10)
        "multi_put_per_task": 4,       # ... each putting this many arrays ... (Ray: 10)
        "multi_put_bytes": 80 * 1024 * 1024,        # ... of this size (Ray: 80 MiB)
        "multi_put_calls_tasks": 10,   # multi client put calls: tasks (Ray: 10) ...
        "multi_put_calls_per_task": 100,  # ... each doing this many small puts (Ray: 100)
        "contained_refs": 10_000,      # refs inside the object of "get object containing 10k refs"
        "wait_refs": 1000,             # single client wait 1k refs
        "multi_task_clients": 4,       # multi client tasks async: actors (Ray: 4) ...
        "multi_task_per_client": 1000,  # ... each submitting this many tasks (Ray: 10000)
        "one_to_n_calls": 1000,        # 1:n: calls per server actor (Ray: 5000)
        "n_to_n_clients": 4,           # n:n: tasks (Ray: 4) ...
        "n_to_n_calls": 1000,          # ... each making this many actor calls (Ray: 5000)
        "xlang_array_bytes": 100 * 1000 * 1000,  # the ndarray of the cross-language read rows
    },
}
SIZES["ray"] = dict(SIZES["default"], put_large_bytes=800 * 1024 * 1024, multi_put_tasks=10, multi_put_per_task=10,
                    multi_task_per_client=10_000, one_to_n_calls=5000, n_to_n_calls=5000)



def _get(refs: Any) -> Any:
    return polyray.get(refs, timeout=GET_TIMEOUT)


# -- remote functions and actors (module level: workers import them by name) ---

@polyray.remote
def small_value() -> bytes:
    return b"ok"


@polyray.remote
def do_put_small(n: int) -> None:
    for _ in range(n):
        polyray.put(0)


@polyray.remote
def do_put(n: int, nbytes: int) -> None:
    for _ in range(n):
        polyray.put(np.zeros(nbytes // 8, dtype=np.int64))


@polyray.remote
def create_object_containing_ref(n: int) -> list:
    return [polyray.put(1) for _ in range(n)]


@polyray.remote
def actor_work(actors: list, n: int) -> None:
    k = len(actors)
    polyray.get([actors[i % k].small_value.remote() for i in range(n)])


@polyray.remote(num_cpus=0)
class Actor:
    def small_value(self) -> bytes:
        return b"ok"

    def small_value_batch(self, n: int) -> None:
        polyray.get([small_value.remote() for _ in range(n)])


@polyray.remote
class AsyncActor:
    async def small_value(self) -> bytes:
        return b"ok"


@polyray.remote(num_cpus=0)
class Client:
    def __init__(self, servers: Any) -> None:
        self.servers = servers if isinstance(servers, list) else [servers]

    def small_value_batch(self, n: int) -> None:
        results = []
        for s in self.servers:
            results.extend([s.small_value.remote() for _ in range(n)])
        polyray.get(results)


# -- rows --------------------------------------------------------------------

@dataclass
class Workload:
    """What a row's setup returns: the timed call, ops per call, and what to clean up after."""

    fn: Callable[[], Any]
    multiplier: float = 1.0
    actors: list = field(default_factory=list)
    keep: list = field(default_factory=list)  # objects to hold until the row ends
    # Rows timed by another process (a Java or C++ driver) bring their runs.
    runs: list | None = None


@dataclass
class Row:
    name: str
    setup: Callable[[dict], Workload]
    unit: str = "ops/s"
    ray_name: str | None = None
    xlang: str = ""    # "java", "cpp": the row calls into that language
    ray: bool = True   # Ray has a counterpart (compare_ray.py runs it there too)


ROWS: list[Row] = []


def _row(name: str, unit: str = "ops/s", ray_name: str | None = None, xlang: str = "", ray: bool = True):
    def register(setup: Callable[[dict], Workload]) -> Callable[[dict], Workload]:
        ROWS.append(Row(name, setup, unit, ray_name or name, xlang, ray))
        return setup
    return register


def _n_cpu() -> int:
    # ray_perf.py: multiprocessing.cpu_count() // 2 server actors (1 on a 2-core machine).
    return max(1, (os.cpu_count() or 2) // 2)


def _ready(actors: list) -> list:
    """Wait until the actors are up, so their start is not timed."""
    _get([a.small_value.remote() for a in actors])
    return actors


@_row("single client get calls", ray_name="single client get calls (Plasma Store)")
def _get_calls(s: dict) -> Workload:
    value = polyray.put(0)
    return Workload(lambda: polyray.get(value), keep=[value])


@_row("single client put calls", ray_name="single client put calls (Plasma Store)")
def _put_calls(s: dict) -> Workload:
    return Workload(lambda: polyray.put(0))


@_row("multi client put calls", ray_name="multi client put calls (Plasma Store)")
def _multi_put_calls(s: dict) -> Workload:
    tasks, per = s["multi_put_calls_tasks"], s["multi_put_calls_per_task"]
    return Workload(lambda: _get([do_put_small.remote(per) for _ in range(tasks)]), tasks * per)


@_row("single client put gigabytes", unit="GB/s")
def _put_gigabytes(s: dict) -> Workload:
    arr = np.zeros(s["put_large_bytes"] // 8, dtype=np.int64)
    return Workload(lambda: polyray.put(arr), arr.nbytes / GB, keep=[arr])


@_row("fresh-store put 100 MB", unit="GB/s")
def _fresh_store_put(s: dict) -> Workload:
    """The first puts of a 100 MB array into a fresh node (compare_ray.py runs every row in
    one; here it is fresh only when it runs first). polyray: once the store's prefault is done
    (at most 10 s); Ray: after 1 s. One run per put: 2 puts, the objects held."""
    arr = np.empty(100_000_000 // 8)
    arr.fill(1.0)
    _store_settled()
    keep, runs = [], []
    for _ in range(2):
        t = time.perf_counter()
        keep.append(polyray.put(arr))
        runs.append(arr.nbytes / GB / (time.perf_counter() - t))
    return Workload(lambda: None, keep=keep, runs=runs)


def _store_settled(timeout: float = 10.0) -> None:
    try:
        from polyray import api
        core = api._core()
    except (ImportError, AttributeError):  # the Ray stand-in: no prefault to wait for
        time.sleep(1.0)
        return
    from polyray.store.prefault import prefault_bytes_from_env
    path = "/dev/shm/" + core.store_name.lstrip("/")
    want = min(prefault_bytes_from_env(), core.node_store.store.stats().capacity)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = getattr(core.node_store, "_prefaulter", None)
        if (p is None or p.done.is_set()) and os.stat(path).st_blocks * 512 >= want:
            return
        time.sleep(0.01)


@_row("multi client put gigabytes", unit="GB/s")
def _multi_put_gigabytes(s: dict) -> Workload:
    tasks, per, nbytes = s["multi_put_tasks"], s["multi_put_per_task"], s["multi_put_bytes"]
    return Workload(lambda: _get([do_put.remote(per, nbytes) for _ in range(tasks)]),
                    tasks * per * (nbytes // 8 * 8) / GB)


@_row("single client tasks and get batch")
def _tasks_and_get_batch(s: dict) -> Workload:
    # Ray counts one op per batch of 1000 tasks (multiplier 1).
    n = s["batch"]
    return Workload(lambda: _get([small_value.remote() for _ in range(n)]))


@_row("single client get object containing 10k refs")
def _get_containing_refs(s: dict) -> Workload:
    ref = create_object_containing_ref.remote(s["contained_refs"])
    _get(ref)
    return Workload(lambda: polyray.get(ref), keep=[ref])


@_row("single client wait 1k refs")
def _wait_refs(s: dict) -> Workload:
    n = s["wait_refs"]

    def wait_multiple_refs() -> None:
        not_ready = [small_value.remote() for _ in range(n)]
        for _ in range(n):
            ready, not_ready = polyray.wait(not_ready, timeout=GET_TIMEOUT)
            if not ready:
                raise TimeoutError(f"wait() found no ready ref in {GET_TIMEOUT} s")
    return Workload(wait_multiple_refs)


@_row("single client tasks sync")
def _tasks_sync(s: dict) -> Workload:
    return Workload(lambda: _get(small_value.remote()))


@_row("single client tasks async")
def _tasks_async(s: dict) -> Workload:
    n = s["batch"]
    return Workload(lambda: _get([small_value.remote() for _ in range(n)]), n)


@_row("multi client tasks async")
def _multi_tasks_async(s: dict) -> Workload:
    m, n = s["multi_task_clients"], s["multi_task_per_client"]
    actors = _ready([Actor.remote() for _ in range(m)])
    return Workload(lambda: _get([a.small_value_batch.remote(n) for a in actors]), n * m, actors=actors)


@_row("1:1 actor calls sync")
def _actor_sync(s: dict) -> Workload:
    a = _ready([Actor.remote()])[0]
    return Workload(lambda: _get(a.small_value.remote()), actors=[a])


@_row("1:1 actor calls async")
def _actor_async(s: dict) -> Workload:
    n = s["batch"]
    a = _ready([Actor.remote()])[0]
    return Workload(lambda: _get([a.small_value.remote() for _ in range(n)]), n, actors=[a])


@_row("1:1 actor calls concurrent")
def _actor_concurrent(s: dict) -> Workload:
    n = s["batch"]
    a = _ready([Actor.options(max_concurrency=16).remote()])[0]
    return Workload(lambda: _get([a.small_value.remote() for _ in range(n)]), n, actors=[a])


@_row("1:n actor calls async")
def _one_to_n(s: dict) -> Workload:
    n = s["one_to_n_calls"]
    servers = _ready([Actor.remote() for _ in range(_n_cpu())])
    client = Client.remote(servers)
    _get(client.small_value_batch.remote(1))
    return Workload(lambda: _get(client.small_value_batch.remote(n)), n * len(servers),
                    actors=servers + [client])


@_row("n:n actor calls async")
def _n_to_n(s: dict) -> Workload:
    m, n = s["n_to_n_clients"], s["n_to_n_calls"]
    servers = _ready([Actor.remote() for _ in range(_n_cpu())])
    return Workload(lambda: _get([actor_work.remote(servers, n) for _ in range(m)]), m * n, actors=servers)


@_row("1:1 async-actor calls async")
def _async_actor_async(s: dict) -> Workload:
    n = s["batch"]
    a = _ready([AsyncActor.remote()])[0]
    return Workload(lambda: _get([a.small_value.remote() for _ in range(n)]), n, actors=[a])


# -- cross-language rows -----------------------------------------------------
# The Java callee is benchmarks/xlang/BenchTarget.java / BenchActor.java, compiled
# into build/bench/java on first use; the job's code search path points there
# (see _xlang_code_search_path). The same rows run against Ray's
# cross-language API in benchmarks/compare_ray.py.

JAVA_CLASS = "polyraybench.BenchTarget"
JAVA_ACTOR = "polyraybench.BenchActor"


def _java_function(cls: str, method: str) -> Any:
    return polyray.java_function(cls, method)


def _java_actor(cls: str) -> Any:
    return _ready_xlang([polyray.java_actor_class(cls).remote()])[0]


def _ready_xlang(actors: list) -> list:
    _get([a.smallValue.remote() for a in actors])
    return actors


@_row("Python -> Java tasks sync", xlang="java")
def _py_java_tasks_sync(s: dict) -> Workload:
    f = _java_function(JAVA_CLASS, "smallValue")
    _get(f.remote())
    return Workload(lambda: _get(f.remote()))


@_row("Python -> Java tasks async", xlang="java")
def _py_java_tasks_async(s: dict) -> Workload:
    n = s["batch"]
    f = _java_function(JAVA_CLASS, "smallValue")
    _get(f.remote())
    return Workload(lambda: _get([f.remote() for _ in range(n)]), n)


@_row("Python -> Java actor calls sync", xlang="java")
def _py_java_actor_sync(s: dict) -> Workload:
    a = _java_actor(JAVA_ACTOR)
    return Workload(lambda: _get(a.smallValue.remote()), actors=[a])


@_row("Python -> Java actor calls async", xlang="java")
def _py_java_actor_async(s: dict) -> Workload:
    n = s["batch"]
    a = _java_actor(JAVA_ACTOR)
    return Workload(lambda: _get([a.smallValue.remote() for _ in range(n)]), n, actors=[a])


@_row("Python -> Java 100 MB ndarray read", unit="GB/s", xlang="java", ray=False)
def _py_java_ndarray(s: dict) -> Workload:
    # The Java task reads it from the node's store (a direct buffer over shared memory).
    return _ndarray_read(s, "Java", _java_function(JAVA_CLASS, "sum"))


def _ndarray_read(s: dict, language: str, sum_fn: Any) -> Workload:
    """A put int64 array of ones passed by reference to ``sum_fn``, which must
    read every element; the row's rate is the array's bytes per second."""
    arr = np.ones(s["xlang_array_bytes"] // 8, dtype=np.int64)
    ref = polyray.put(arr)
    expected = int(arr.size)

    def read() -> None:
        got = _get(sum_fn.remote(ref))
        if got != expected:
            raise AssertionError(f"{language} summed {got}, expected {expected}")
    return Workload(read, arr.nbytes / GB, keep=[ref])


@_row("Java -> Python actor calls async", xlang="java", ray=False)
def _java_py_actor_async(s: dict) -> Workload:
    # A Java driver joins this cluster and times its own batches (it cannot
    # be called from here per batch); see benchmarks/xlang/drivers/.
    from polyray import sdk
    classes = build_java_driver(os.path.join(sdk.repo_root(), "build", "bench", "java-drivers"))
    cp = ":".join(sdk.java_classpath() + [classes])
    cmd = ["java", "-cp", cp, f"-Dpolyray.store.library={sdk.store_library()}", "JavaCallsPython",
           _CLUSTER["address"], str(s["batch"]), str(_TIMING["repeat"]), str(_TIMING["duration"])]
    return Workload(lambda: None, runs=driver_runs("Java", cmd))


# The C++ callee is benchmarks/xlang/bench_target.cc, compiled with the SDK's
# flags into build/bench/cpp on first use (again when it or a header changed);
# the job's code search path lists that folder (see _xlang_code_search_path).
# These rows have no Ray counterpart (Ray's Python API does not call C++).

CPP_ACTOR = ("BenchActor::Create", "BenchActor")  # (registered factory, class name)


def _cpp_actor() -> Any:
    a = polyray.cpp_actor_class(*CPP_ACTOR).remote()
    _get(a.SmallValue.remote())  # up before the timing starts
    return a


@_row("Python -> C++ tasks sync", xlang="cpp", ray=False)
def _py_cpp_tasks_sync(s: dict) -> Workload:
    f = polyray.cpp_function("SmallValue")
    _get(f.remote())
    return Workload(lambda: _get(f.remote()))


@_row("Python -> C++ tasks async", xlang="cpp", ray=False)
def _py_cpp_tasks_async(s: dict) -> Workload:
    n = s["batch"]
    f = polyray.cpp_function("SmallValue")
    _get(f.remote())
    return Workload(lambda: _get([f.remote() for _ in range(n)]), n)


@_row("Python -> C++ actor calls sync", xlang="cpp", ray=False)
def _py_cpp_actor_sync(s: dict) -> Workload:
    a = _cpp_actor()
    return Workload(lambda: _get(a.SmallValue.remote()), actors=[a])


@_row("Python -> C++ actor calls async", xlang="cpp", ray=False)
def _py_cpp_actor_async(s: dict) -> Workload:
    n = s["batch"]
    a = _cpp_actor()
    return Workload(lambda: _get([a.SmallValue.remote() for _ in range(n)]), n, actors=[a])


@_row("Python -> C++ 100 MB ndarray read", unit="GB/s", xlang="cpp", ray=False)
def _py_cpp_ndarray(s: dict) -> Workload:
    # The C++ task views it in the node's store (an NdSpan over shared memory, no copy).
    return _ndarray_read(s, "C++", polyray.cpp_function("Sum"))


@_row("C++ -> Python actor calls async", xlang="cpp", ray=False)
def _cpp_py_actor_async(s: dict) -> Workload:
    # A C++ driver joins this cluster and times its own batches, like the Java
    # one above; see benchmarks/xlang/drivers/cpp_calls_python.cc.
    from polyray import sdk
    exe = build_cpp_driver(os.path.join(sdk.repo_root(), "build", "bench", "cpp-drivers"))
    cmd = [exe, _CLUSTER["address"], str(s["batch"]), str(_TIMING["repeat"]), str(_TIMING["duration"])]
    return Workload(lambda: None, runs=driver_runs("C++", cmd))


# The cluster and timing of the current run, for rows timed by another process.
_CLUSTER: dict[str, str] = {}
_TIMING: dict[str, float] = {"repeat": 4, "duration": 1.0}


# Why the callees of a language could not be built ("java", "cpp" -> message):
# that language's rows fail with it, the other rows still run.
_BUILD_ERRORS: dict[str, str] = {}


def _xlang_code_search_path(rows: list[Row]) -> list[str]:
    """The code search path the selected rows need (compiling their callees)."""
    from polyray import sdk
    path = []
    for lang, build in (("java", build_java_target), ("cpp", build_cpp_target)):
        if any(r.xlang == lang for r in rows):
            try:
                path.append(build(os.path.join(sdk.repo_root(), "build", "bench", lang)))
            except Exception as e:  # noqa: BLE001 — reported by each row of the language
                _BUILD_ERRORS[lang] = f"building the {lang} callees failed: {type(e).__name__}: {e}"
    return path


# -- timing --------------------------------------------------------------------

@dataclass
class Result:
    name: str
    ray_name: str
    unit: str
    runs: list[float]
    multiplier: float
    calls: int
    error: str | None = None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.runs) if self.runs else math.nan

    @property
    def stdev(self) -> float:
        # Population stdev, as Ray's timeit (np.std).
        return statistics.pstdev(self.runs) if len(self.runs) > 1 else 0.0

    def as_dict(self) -> dict:
        d = {"name": self.name, "ray_name": self.ray_name, "unit": self.unit, "mean": self.mean,
             "stdev": self.stdev, "runs": self.runs, "multiplier": self.multiplier, "calls": self.calls}
        if self.error:
            d["error"] = self.error
            d["mean"] = None
        return d


def timeit(fn: Callable[[], Any], multiplier: float, repeat: int, duration: float) -> tuple[list[float], int]:
    """Ray's timeit, with the lengths as parameters: warm up for `duration`, then `repeat` timed runs.

    Like Ray, a run calls fn in steps of (warm-up calls / 10 + 1) until `duration`
    has passed and reports multiplier * calls / elapsed.
    """
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < duration:
        fn()
        count += 1
    step = count // 10 + 1
    runs, calls = [], count
    for _ in range(repeat):
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < duration:
            for _ in range(step):
                fn()
            count += step
        runs.append(multiplier * count / (time.perf_counter() - start))
        calls += count
    return runs, calls


def run_row(row: Row, sizes: dict, repeat: int, duration: float) -> Result:
    """Set a row up, time it, tear it down (actors killed, objects dropped)."""
    w: Workload | None = None
    try:
        if row.xlang in _BUILD_ERRORS:
            raise RuntimeError(_BUILD_ERRORS[row.xlang])
        w = row.setup(sizes)
        if w.runs is not None:
            runs, calls = list(w.runs), 0
        else:
            runs, calls = timeit(w.fn, w.multiplier, repeat, duration)
        return Result(row.name, row.ray_name or row.name, row.unit, runs, w.multiplier, calls)
    except Exception as e:  # noqa: BLE001 — one broken row must not hide the others
        return Result(row.name, row.ray_name or row.name, row.unit, [], w.multiplier if w else 1.0, 0,
                      error=f"{type(e).__name__}: {e}")
    finally:
        if w is not None:
            for a in w.actors:
                try:
                    polyray.kill(a)
                except Exception:  # noqa: BLE001
                    pass
        del w
        gc.collect()


def machine_info() -> dict:
    """Cores, CPU model and memory of this machine (for the record next to the figures)."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_bytes": mem, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": load}


def _fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:,.2f}"
    return f"{x:.4f}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options (shared by ``python -m polyray.bench`` and ``polyray microbenchmark``)."""
    p.add_argument("--filter", default="", help="run only rows whose name contains this substring")
    p.add_argument("--repeat", type=int, default=4, help="timed runs per row (default 4, as Ray)")
    p.add_argument("--duration", type=float, default=1.0,
                   help="seconds per timed run, and of the warm-up (default 1.0; Ray uses 2)")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the results to this JSON file")
    p.add_argument("--ray-sizes", action="store_true",
                   help="use ray_perf.py's workload sizes (longer; default sizes are scaled for 2 cores)")
    p.add_argument("--num-cpus", type=float, default=None, help="CPUs of the embedded head (default: all)")
    p.add_argument("--exact", action="store_true", help="--filter is a whole row name, not a substring")
    p.add_argument("--no-xlang", action="store_true", help="skip the cross-language rows")
    p.add_argument("--list", action="store_true", help="list the rows and exit")


def run(args: argparse.Namespace) -> int:
    """Run the selected rows on an embedded local head; print and optionally save the figures."""
    rows = [r for r in ROWS if (r.name == args.filter if args.exact else args.filter in r.name)]
    if args.no_xlang:
        rows = [r for r in rows if not r.xlang]
    if args.list:
        for r in ROWS:
            print(r.name)
        return 0
    if not rows:
        print(f"no benchmark row matches --filter {args.filter!r}; rows:\n  " + "\n  ".join(r.name for r in ROWS),
              file=sys.stderr)
        return 2
    if args.repeat < 1 or args.duration <= 0:
        print("--repeat must be >= 1 and --duration > 0", file=sys.stderr)
        return 2
    sizes = SIZES["ray" if args.ray_sizes else "default"]
    info = machine_info()
    print(f"polyray microbenchmark: {len(rows)} row(s), {args.repeat} run(s) x {args.duration:g} s after a "
          f"{args.duration:g} s warm-up; {info['cpus']} CPU(s) ({info['cpu_model']}); "
          f"sizes: {'ray' if args.ray_sizes else 'default'}", flush=True)
    t0 = time.perf_counter()
    init_options: dict[str, Any] = {"num_cpus": args.num_cpus, "log_to_driver": False}
    code_search_path = _xlang_code_search_path(rows)
    if code_search_path:
        init_options["code_search_path"] = code_search_path
    info_init = polyray.init(**init_options)
    _CLUSTER["address"] = str(info_init.get("address", "")) if isinstance(info_init, dict) else ""
    _TIMING.update(repeat=args.repeat, duration=args.duration)
    results: list[Result] = []
    try:
        width = max(len(r.name) for r in rows)
        for row in rows:
            res = run_row(row, sizes, args.repeat, args.duration)
            results.append(res)
            if res.error:
                print(f"{row.name:<{width}}  FAILED: {res.error}", flush=True)
            else:
                print(f"{row.name:<{width}}  {_fmt(res.mean):>12} ± {_fmt(res.stdev):<10} {row.unit}", flush=True)
    finally:
        polyray.shutdown()
    elapsed = time.perf_counter() - t0
    print(f"total {elapsed:.1f} s")
    if args.json:
        try:
            info["loadavg_at_end"] = os.getloadavg()
        except OSError:
            pass
        out = {"tool": "polyray.bench", "polyray_version": polyray.__version__, "machine": info,
               "config": {"repeat": args.repeat, "duration": args.duration, "filter": args.filter,
                          "sizes": "ray" if args.ray_sizes else "default", "size_values": sizes,
                          "num_cpus": args.num_cpus},
               "elapsed_s": elapsed, "results": [r.as_dict() for r in results]}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 1 if any(r.error for r in results) else 0


def main(argv: list[str] | None = None, prog: str = "python -m polyray.bench") -> int:
    """``python -m polyray.bench`` and ``polyray microbenchmark``: parse options, run, return the exit code."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    # Run the module under its importable name, so workers unpickle the remote
    # functions and actor classes above by reference (import polyray.bench)
    # instead of by value from __main__.
    from polyray import bench as _bench
    sys.exit(_bench.main())
