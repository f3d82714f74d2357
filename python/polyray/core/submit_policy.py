"""The submission policies of the runtime spec, as Python functions.

proto/runtime/runtime_spec.toml states these rules in words and fixes their
constants; proto/vectors/policy.json holds cases every language's CoreWorker
is tested against (tests/core/unit/test_runtime_spec.py here, RuntimeSpecTest
in Java, core_runtime_spec_test in C++). Times are in microseconds, as in
the vectors.
"""

from __future__ import annotations

from polyray.protocol import common_pb2 as pb
from polyray.protocol import runtime_spec as spec


def inflight_limit(avg_task_us: float, queued: int, leases: int) -> int:
    """How many tasks may be in flight on one leased worker.

    Short tasks are pipelined (several in flight, sent in batches) but only
    when far more tasks are queued than there are workers: a few tasks
    always get a worker each, so tasks that wait on each other cannot end up
    queued behind one another on one worker.
    """
    if avg_task_us < spec.PIPELINING_FAST_TASK_US and queued > spec.PIPELINING_QUEUE_FACTOR * leases:
        return spec.PIPELINING_MAX_INFLIGHT_FAST
    return 1


def next_task_time_average(avg_us: float, took_us: float) -> float:
    """The moving average of a lease's task time after one more result."""
    if avg_us >= spec.PIPELINING_UNKNOWN_AVG_US:
        return took_us  # the first result replaces "unknown"
    w = spec.PIPELINING_NEW_WEIGHT_RATIO
    return (1 - w) * avg_us + w * took_us


def lease_requests_to_start(queued: int, requesting: int) -> int:
    """How many more lease requests a scheduling class may send now."""
    return max(0, min(queued, spec.LEASE_MAX_PENDING_REQUESTS) - requesting)


def can_retry(attempt: int, max_retries: int) -> bool:
    """Whether a task on its ``attempt``-th retry (0: first run) may run again."""
    return max_retries < 0 or attempt < max_retries


def travels_inline(size: int) -> bool:
    """Whether an encoded value of ``size`` bytes travels inside messages (else through the store)."""
    return size <= spec.INLINE_MAX_BYTES


#: Decisions of :func:`actor_call` (the names in proto/vectors/policy.json).
RETRY = "retry"
FAIL = "fail"
WAIT = "wait"


def actor_call(in_flight: bool, actor_state: str, max_task_retries: int, attempt: int) -> str:
    """What becomes of an actor call when its actor's stream breaks or the actor
    is not ALIVE (policy "actor_call").

    ``actor_state`` is the GCS's state then ("ALIVE", "RESTARTING", "DEAD"...).
    A DEAD actor fails every call (FAIL). A call not yet sent waits for the
    next incarnation and spends no retry (WAIT). A call in flight when the
    stream broke is sent again to the next incarnation (RETRY, as attempt + 1)
    while ``can_retry(attempt, max_task_retries)``, else FAIL.
    """
    if actor_state == "DEAD":
        return FAIL
    if not in_flight:
        return WAIT
    return RETRY if can_retry(attempt, max_task_retries) else FAIL


#: Decisions of :func:`lease_failure` (the names in proto/vectors/policy.json).
RETRY_TASK = "retry_task"
FAIL_TASK = "fail_task"
FAIL_CLASS = "fail_class"


def lease_failure(kind: int, attempt: int, max_retries: int) -> str:
    """What a lease reply's failure of ``kind`` (an ErrorKind) does, given the
    attempt and max_retries of the task at the head of the class's queue.

    A worker that died before registering (WORKER_CRASHED) costs only the
    head task an attempt (RETRY_TASK), or fails only it once its retries are
    spent (FAIL_TASK); any other failure (a launcher that cannot start
    anything) would hit every task alike and fails the class (FAIL_CLASS).
    """
    if kind != pb.WORKER_CRASHED:
        return FAIL_CLASS
    return RETRY_TASK if can_retry(attempt, max_retries) else FAIL_TASK
