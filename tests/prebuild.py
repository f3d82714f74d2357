"""Build the C++ programs and Java classes the cluster lane compiles, N at a time.

``make test-cluster`` runs this before the lane: on a fresh clone the lane
would otherwise compile some 45 C++ test programs (``polyray cpp-flags``,
5-10 s of CPU each) and a dozen Java source sets one after another, inside
the tests that need them, with the second core idle. Here they compile
``-j`` at a time (default: the CPU count) into the same caches the fixtures
use (tests/xlang/xlang_support.build_cpp: build/xlang-tests/,
tests/java_support.compiled_java: build/java-tests/), so the fixtures find
them built. Nothing here is required: a target missing from the lists below
is still built by its test when first needed, and a failed build here is
reported and built (and failed, with the compiler's message) by its test
again. Targets whose sources a test writes at run time are not listed.

Usage: python tests/prebuild.py [-j N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
sys.path[:0] = [TESTS, os.path.join(TESTS, "xlang")]

import java_support  # noqa: E402
import xlang_support  # noqa: E402

#: C++ targets: (name, source under the repository, "shared" or "exe"), as the tests call build_cpp.
CPP_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("xlang_funcs", "tests/xlang/cpp_src/xlang_funcs.cc", "shared"),
    ("xlang_broken", "tests/xlang/cpp_src/xlang_broken.cc", "shared"),
    ("xlang_driver", "tests/xlang/cpp_src/xlang_driver.cc", "exe"),
    ("cluster_funcs", "tests/xlang/cpp_src/cluster_funcs.cc", "shared"),
    ("cluster_driver", "tests/xlang/cpp_src/cluster_driver.cc", "exe"),
    ("scale_funcs", "tests/scale/cpp_src/scale_funcs.cc", "shared"),
    ("get_many_driver", "tests/scale/cpp_src/get_many_driver.cc", "exe"),
    ("rtenv_funcs", "tests/runtime_env/cpp_src/rtenv_funcs.cc", "shared"),
    ("rtenv_driver", "tests/runtime_env/cpp_src/rtenv_driver.cc", "exe"),
    ("job_driver", "tests/jobs/cpp_src/job_driver.cc", "exe"),
    ("context_funcs", "tests/api/cpp_src/context_funcs.cc", "shared"),
    ("context_driver", "tests/api/cpp_src/context_driver.cc", "exe"),
    ("scheduling_funcs", "tests/api/cpp_src/scheduling_funcs.cc", "shared"),
    ("scheduling_driver", "tests/api/cpp_src/scheduling_driver.cc", "exe"),
    ("pool_driver", "tests/api/cpp_src/pool_driver.cc", "exe"),
    ("call_args_funcs", "tests/api/cpp_src/call_args_funcs.cc", "shared"),
    ("omp_funcs", "tests/api/cpp_src/omp_funcs.cc", "shared"),
    ("cancel_funcs", "tests/api/cpp_src/cancel_funcs.cc", "shared"),
    ("concurrency_funcs", "tests/api/cpp_src/concurrency_funcs.cc", "shared"),
    ("gpu_funcs", "tests/api/cpp_src/gpu_funcs.cc", "shared"),
    ("lifetime_driver", "tests/api/cpp_src/lifetime_driver.cc", "exe"),
    ("obs_speak", "tests/observability/output_src/speak.cc", "shared"),
    ("obs_speak_driver", "tests/observability/output_src/speak_driver.cc", "exe"),
    ("obs_obj_holder", "tests/observability/cpp_src/obj_holder.cc", "shared"),
    ("obs_hold_driver", "tests/observability/cpp_src/hold_driver.cc", "exe"),
    ("chaos_quitter", "tests/chaos/cpp_src/quitter_funcs.cc", "shared"),
    ("chaos_sleepy_funcs", "tests/chaos/cpp_src/sleepy_funcs.cc", "shared"),
    ("chaos_keeper", "tests/chaos/cpp_src/keeper_funcs.cc", "shared"),
    ("chaos_relay", "tests/chaos/cpp_src/relay_funcs.cc", "shared"),
    ("copies_funcs", "tests/chaos/cpp_src/copies_funcs.cc", "shared"),
    ("copies_driver", "tests/chaos/cpp_src/copies_driver.cc", "exe"),
    ("chaos_owner_driver", "tests/chaos/cpp_src/owner_driver.cc", "exe"),
    ("chaos_borrower_death_driver", "tests/chaos/cpp_src/borrower_death_driver.cc", "exe"),
    ("lineage_driver", "tests/chaos/cpp_src/lineage_driver.cc", "exe"),
    ("node_death_driver", "tests/chaos/cpp_src/node_death_driver.cc", "exe"),
    ("borrow_driver", "tests/chaos/cpp_src/borrow_driver.cc", "exe"),
    ("restart_driver", "tests/chaos/cpp_src/restart_driver.cc", "exe"),
    ("finder_driver", "tests/cluster/cpp_src/finder_driver.cc", "exe"),
    ("idle_driver", "tests/security/cpp_src/idle_driver.cc", "exe"),
    ("push_tls_driver", "tests/security/cpp_src/push_tls_driver.cc", "exe"),
)

#: Java source sets: (label, folders or files under the repository), as the tests call compiled_java.
JAVA_TARGETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("xlang_java", ("tests/xlang/java_src",)),
    ("obs_java", ("tests/observability/java_src",)),
    ("obs_speak", ("tests/observability/output_src/obsout/Speak.java",
                   "tests/observability/output_src/obsout/SpeakDriver.java")),
    ("obs_speak_only", ("tests/observability/output_src/obsout/Speak.java",)),
    ("api_java", ("tests/api/java_src",)),
    ("api_java_parity", ("tests/api/java_parity_src",)),
    ("api_java_gen", ("tests/api/java_gen_src",)),
    ("api_java_omp", ("tests/api/java_omp_src",)),
    ("api_java_ctx", ("tests/api/java_ctx_src",)),
    ("api_java_gpu", ("tests/api/java_gpu_src",)),
    ("scale_java", ("tests/scale/java_src",)),
    ("scale_java_driver", ("tests/scale/java_driver",)),
    ("cluster_java_sched", ("tests/cluster/java_sched_src",)),
)


def _cpp(name: str, source: str, kind: str) -> None:
    xlang_support.build_cpp(name, [os.path.join(REPO, source)], kind)


def _cpp_examples() -> None:
    # examples/cpp's driver links its library: built in this order, as build_example_drivers does.
    lib = xlang_support.build_cpp("example_functions", [os.path.join(REPO, "examples", "cpp",
                                                                    "example_functions.cc")], "shared")
    xlang_support.build_cpp("example_driver", [os.path.join(REPO, "examples", "cpp", "driver.cc")], "exe",
                            [f"-I{os.path.join(REPO, 'examples', 'cpp')}", f"-L{os.path.dirname(lib)}",
                             "-lexample_functions", f"-Wl,-rpath,{os.path.dirname(lib)}"])


def _call_args_driver() -> None:
    src = os.path.join(REPO, "tests", "api", "cpp_src")
    xlang_support.build_cpp("call_args_driver", [os.path.join(src, "call_args_driver.cc")], "exe", [f"-I{src}"])


def _java(label: str, paths: tuple[str, ...]) -> None:
    java_support.compiled_java(label, *(os.path.join(REPO, p) for p in paths))


def main(argv: list[str] | None = None) -> int:
    """Build every target (``-j`` at a time); print what failed; exit 0 (the tests report failures)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="builds at once")
    args = p.parse_args(argv)
    jobs: list[tuple[str, object, tuple]] = [("java " + label, _java, (label, paths)) for label, paths in JAVA_TARGETS]
    jobs += [("c++ " + t[0], _cpp, t) for t in CPP_TARGETS]
    jobs += [("c++ examples/cpp", _cpp_examples, ()), ("c++ call_args_driver", _call_args_driver, ())]
    started = time.monotonic()
    failed: list[str] = []

    def run(job: tuple[str, object, tuple]) -> None:
        what, fn, fn_args = job
        try:
            fn(*fn_args)  # type: ignore[operator]
        except BaseException as e:  # noqa: BLE001 - pytest.fail raises a BaseException; its test reports it
            failed.append(f"{what}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}")

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(run, jobs))
    print(f"tests/prebuild.py: {len(jobs) - len(failed)} of {len(jobs)} test programs built or up to date "
          f"in {time.monotonic() - started:.0f} s (-j {args.jobs})")
    for line in failed:
        print(f"  not built (its test will say why): {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
