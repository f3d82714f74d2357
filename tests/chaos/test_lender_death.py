"""Lends of a dead executor are released (issue 14; docs/ownership.md, "The
reference protocol", Deaths).

A daemon head (2 CPUs) whose workers run with the test hook
``POLYRAY_TEST_KILL_AFTER_LEND=1``: a worker SIGKILLs itself as soon as an
owner answered a lend it made, i.e. after the lend landed at the owner and
before the task's result can leave. The test process is the Python driver
and owns a 1 MB object in the node's store; it calls a task (Python, Java
or C++, ``max_retries=0``) with ``[ref]`` as its argument, which returns its
argument as it came: the ref nested in the return is lent to the driver (the
caller), by an ``UpdateBorrows{lent, lender}`` to its owner (the driver
itself). The executor dies; the task fails with WorkerCrashedError; the
driver drops its ref. The lend names its lender, the driver's BorrowerWatch
finds the lender dead in two rounds and releases it: the object leaves the
store within the bound. Before lends named their lender, the lend was held
until the caller (here the driver) died: the last test runs the driver's
counter as an owner that ignores lenders and sees the object stay.
"""

from __future__ import annotations

import gc
import os
import time

import pytest
from chaos_util import SIZE, Head, driving_head
from core_util import wait_until

import polyray
import polyray.api
import polyray.sdk
from polyray.exceptions import WorkerCrashedError

pytestmark = pytest.mark.timeout(300)  # the first run compiles the C++ and Java parts

HERE = os.path.dirname(os.path.abspath(__file__))
#: From the executor's death to the free: the caller's 2 s argument grace and
#: the owner's two watch rounds (1 s each) overlap; slack for the loaded machine.
BOUND_S = 10.0
#: How long the object is checked to stay when lenders are ignored.
STAY_S = 5.0


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    # The head's workers inherit the hook; this process (the driver) does not:
    # its BorrowTracker read the variable when it was imported.
    with driving_head(tmp_path_factory.mktemp("lender_death"), java_sources=["Relay.java"],
                      cpp=("chaos_relay", "relay_funcs.cc"), worker_env={"POLYRAY_TEST_KILL_AFTER_LEND": "1"}) as h:
        yield h


@polyray.remote(max_retries=0)
def relay(box):
    return box


def _relay(lang: str):
    if lang == "python":
        return relay
    if lang == "java":
        return polyray.java_function("chaostest.Relay", "relay").options(max_retries=0)
    return polyray.cpp_function("LenderRelay").options(max_retries=0)


def _lend_and_die(head: Head, lang: str) -> tuple[tuple[int, int], float]:
    """The driver's object goes to an executor that lends it back and dies;
    returns the store before and when the task's failure was seen."""
    before = head.store()
    ref = polyray.put(b"x" * SIZE)
    out = _relay(lang).remote([ref])
    with pytest.raises(WorkerCrashedError):
        polyray.get(out, timeout=120)
    failed_at = time.monotonic()
    objects, used = head.store()
    assert objects == before[0] + 1 and used >= before[1] + SIZE, "the object is not in the store"
    del ref, out
    gc.collect()
    return before, failed_at


@pytest.mark.parametrize("lang", ["python", "java", "cpp"])
def test_a_dead_executors_lend_is_released(head, lang):
    references = polyray.api._core().references
    before, failed_at = _lend_and_die(head, lang)
    # The lend landed before the executor died (the hook fires on its answer).
    assert wait_until(lambda: head.store() == before, BOUND_S, interval=0.05), (
        f"{lang}: the store holds {head.store()} {BOUND_S} s after the executor's death, not {before}")
    print(f"{lang} executor SIGKILLed after lending -> object freed {time.monotonic() - failed_at:.2f} s "
          "after the task's failure")
    assert wait_until(lambda: not references.holders(), BOUND_S), "the dead lender is still watched"


def test_an_owner_that_ignores_lenders_keeps_the_object(head, monkeypatch):
    """The same with the driver's counter ignoring lenders (the rule before):
    the lend is held while the caller lives, so the object stays."""
    references = polyray.api._core().references
    update = references.update_borrowers

    def without_lenders(borrower, added, removed, lent=(), acked=(), address=None, lender=None,
                        acked_lenders=()):
        update(borrower, added, removed, lent, acked, address)

    monkeypatch.setattr(references, "update_borrowers", without_lenders)
    before, failed_at = _lend_and_die(head, "python")
    time.sleep(max(0.0, failed_at + STAY_S - time.monotonic()))
    assert head.store()[0] == before[0] + 1, "freed although the owner did not know the lender"
    # Let go of the leaked lend as the caller's own death would, so later tests start clean.
    monkeypatch.undo()
    references.drop_borrower(polyray.api._core().ctx.worker_id)
    assert wait_until(lambda: head.store() == before, BOUND_S, interval=0.05)
