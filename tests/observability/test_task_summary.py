"""The GCS's task summary (SummarizeTaskEvents) against a real cluster: it counts what
listing every row gives, with and without filters; and Java and C++ reporters fold
their events per attempt (one row per attempt, every state's time kept).

A Python driver runs Python tasks (some fail), a Python actor, a Java task that calls a
C++ task, and failing Java and C++ tasks (tests/observability/java_src,
tests/xlang/cpp_src/xlang_funcs.cc). Events reach the GCS within a flush interval, so
every check waits for its condition, bounded.
"""

from __future__ import annotations

import time

import pytest
from obs_support import code_search_path, wait_for

import polyray
from polyray.exceptions import CrossLanguageError, TaskError
from polyray.protocol import auth, gcs_pb2, gcs_pb2_grpc
from polyray.util import state

pytestmark = pytest.mark.timeout(600)  # the first test may compile the C++ library
TIMEOUT = 90


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    paths = code_search_path(tmp_path_factory, "obs_summary_java")
    polyray.init(num_cpus=2, code_search_path=paths, namespace="obs_summary")
    from polyray.core.object_ref import get_core
    yield get_core().gcs_address
    polyray.shutdown()



@polyray.remote
def sq(x):
    return x * x


@polyray.remote(max_retries=0)
def boom():
    raise ValueError("summary failure")


@polyray.remote
class Acc:
    def add(self, k):
        return k


def listed_summary(address: str, filters: list) -> dict:
    """What the state API gave before the summary RPC: every row paged and counted here."""
    fs = state._check_filters(filters)
    req, rest = state._task_request(fs)
    summary: dict[str, dict] = {}
    total = 0
    for _, r in state._task_pages(address, req, 30):
        row = state.task_row(r)
        if not state._matches(row, rest):
            continue
        total += 1
        entry = summary.setdefault(row["name"], {"name": row["name"], "language": row["language"],
                                                 "type": row["type"], "state_counts": {}})
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
    return {"summary": summary, "total": total}


def ours(name: str, bases: tuple[str, ...] = ("sq", "boom", "Acc.add")) -> bool:
    """A task name of this module's functions (a name may carry its module or not)."""
    return any(name == b or name.endswith("." + b) for b in bases)


def test_server_summary_matches_listing_every_row(cluster):
    refs = [sq.remote(i) for i in range(40)]
    bad = [boom.remote() for _ in range(3)]
    a = Acc.remote()
    calls = [a.add.remote(i) for i in range(10)]
    hop = polyray.java_function("obstest.Hop", "toCpp")
    assert polyray.get(hop.remote(1), timeout=TIMEOUT) == 2
    assert polyray.get(refs, timeout=TIMEOUT) == [i * i for i in range(40)]
    assert polyray.get(calls, timeout=TIMEOUT) == list(range(10))
    failing = [polyray.cpp_function("ThrowRuntime").remote("cpp summary failure"),
               polyray.java_function("obstest.Hop", "fail").remote(3)]
    for ref in bad + failing:
        with pytest.raises((TaskError, CrossLanguageError)):
            polyray.get(ref, timeout=TIMEOUT)

    def settled():
        # Every attempt of this test has reached its end state in the GCS.
        s = listed_summary(cluster, [])
        ended = sum(n for e in s["summary"].values() for st, n in e["state_counts"].items()
                    if st in ("FINISHED", "FAILED") and (ours(e["name"]) or e["language"] != "PYTHON"))
        return s if ended >= 40 + 3 + 10 + 4 else None

    wait_for("every task of the test ended in the GCS", settled)
    # The GCS answers the summary itself: a small reply, no row pages.
    with auth.channel(cluster) as ch:
        reply = gcs_pb2_grpc.GcsServiceStub(ch).SummarizeTaskEvents(gcs_pb2.SummarizeTaskEventsRequest(), timeout=30)
    assert reply.total >= 57 and reply.counts and not reply.groups_left_off
    for filters in ([], [("state", "=", "FAILED")], [("language", "!=", "PYTHON")], [("language", "=", "java")],
                    [("type", "=", "ACTOR_TASK")], [("state", "=", "FINISHED"), ("language", "=", "PYTHON")],
                    [("name", "=", next(n for n in listed_summary(cluster, [])["summary"] if ours(n, ("sq",))))],
                    [("state", "=", "NO_SUCH_STATE")]):
        # Both read the same rows; tasks of this module have ended, so the two agree exactly
        # (asked twice in a row in case a late event of another test's process lands between).
        for _ in range(3):
            server = state.summarize_tasks(cluster, filters=filters)
            listed = listed_summary(cluster, filters)
            if server == listed:
                break
            time.sleep(1.5)
        assert server == listed, filters
    assert state.summarize_tasks(cluster, filters=[("state", "=", "FAILED")])["total"] >= 5
    # A filter on another column is counted on the client, from every row, as before.
    by_pid = state.summarize_tasks(cluster, filters=[("worker_pid", "!=", "0")])
    assert by_pid == listed_summary(cluster, [("worker_pid", "!=", "0")])
    # A bad key is refused by the GCS, naming it.
    with auth.channel(cluster) as ch, pytest.raises(Exception) as err:
        gcs_pb2_grpc.GcsServiceStub(ch).SummarizeTaskEvents(gcs_pb2.SummarizeTaskEventsRequest(
            filters=[gcs_pb2.TaskSummaryFilter(key="worker_pid", value="1")]), timeout=30)
    assert "worker_pid" in str(err.value)


def test_java_and_cpp_attempts_keep_every_state_time_in_one_row(cluster):
    hop = polyray.java_function("obstest.Hop", "toCpp")
    assert polyray.get(hop.remote(10), timeout=TIMEOUT) == 11

    def rows():
        got = state.list_tasks(cluster, filters=[("language", "!=", "PYTHON")], limit=10_000, detail=True)
        done = [r for r in got if r["state"] == "FINISHED" and r["language"] in ("JAVA", "CPP")]
        return done if {r["language"] for r in done} == {"JAVA", "CPP"} else None

    done = wait_for("FINISHED Java and C++ rows", rows)
    for r in done:
        # Owner (Python for the Java task, Java for the C++ task) and worker each folded their
        # two states into one event; the GCS has all four times in the attempt's one row.
        assert 0 < r["submitted_time_ms"] <= r["pending_node_time_ms"] <= r["start_time_ms"] <= r["end_time_ms"], r
    ids = [r["task_id"] for r in done]
    assert len(ids) == len({(r["task_id"], r["attempt_number"]) for r in done})
