"""The runtime spec in Python: its constants and the policy vectors.

proto/vectors/policy.json gives, for each policy of the spec, inputs and the
decision every CoreWorker must make; Java (RuntimeSpecTest) and C++
(core_runtime_spec_test) check the same file. Here every case of every
policy runs against python/polyray/core/submit_policy.py (floats within 1e-6
relative), a policy in the file this module does not know fails, and so
does a constant of polyray.protocol.runtime_spec that differs from
proto/runtime/runtime_spec.toml (a stale generated file).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polyray.core import submit_policy
from polyray.core.spin_selector import spin_budget_us
from polyray.protocol import common_pb2 as pb
from polyray.protocol import runtime_spec

ROOT = Path(__file__).resolve().parents[3]
POLICY = ROOT / "proto" / "vectors" / "policy.json"
SPEC = ROOT / "proto" / "runtime" / "runtime_spec.toml"


def same(expected: Any, actual: Any) -> str | None:
    # type() too: 1 == True would let a bool policy pass an int vector.
    ok = expected == actual and type(expected) is type(actual)
    return None if ok else f"expected {expected!r}, got {actual!r}"


def close(expected: float, actual: float) -> str | None:
    """Within 1e-6 relative (1e-9 absolute near zero), as in Java and C++."""
    ok = math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)
    return None if ok else f"expected {expected!r}, got {actual!r}"


#: What each policy's cases check, by name in the file: case -> None, or what went wrong.
CHECKS: dict[str, Callable[[dict], str | None]] = {
    "inflight_limit": lambda c: same(c["expect"], submit_policy.inflight_limit(
        c["avg_task_us"], c["queued"], c["leases"])),
    "task_time_average": lambda c: close(c["expect_us"], submit_policy.next_task_time_average(
        c["avg_us"], c["took_us"])),
    "lease_requests": lambda c: same(c["expect_new"], submit_policy.lease_requests_to_start(
        c["queued"], c["requesting"])),
    "can_retry": lambda c: same(c["expect"], submit_policy.can_retry(c["attempt"], c["max_retries"])),
    "travels_inline": lambda c: same(c["expect"], submit_policy.travels_inline(c["size"])),
    "actor_call": lambda c: same(c["expect"], submit_policy.actor_call(
        c["in_flight"], c["actor_state"], c["max_task_retries"], c["attempt"])),
    "lease_failure": lambda c: same(c["expect"], submit_policy.lease_failure(
        pb.ErrorKind.Value(c["kind"]), c["attempt"], c["max_retries"])),
    "spin_budget": lambda c: same(c["expect_us"], spin_budget_us(
        c["cap_us"], c["runnable"], c["cores"], c["waits_us"])),
}


def load_vectors(path: Path = POLICY) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


VECTORS = load_vectors()


def wrong_cases(policy: str, cases: list[dict]) -> list[str]:
    """Each case the Python policy decides differently, with its "why"."""
    out = []
    for c in cases:
        problem = CHECKS[policy](c)
        if problem is not None:
            out.append(f"{json.dumps(c)}: {problem}")
    return out


def test_every_policy_in_the_file_is_checked():
    in_file = set(VECTORS) - {"about"}
    assert in_file == set(CHECKS), "policies in policy.json vs. those this module checks"


@pytest.mark.parametrize("policy", sorted(CHECKS))
def test_policy_vectors(policy):
    cases = VECTORS.get(policy)
    assert cases, f"no cases for {policy} in {POLICY}"
    wrong = wrong_cases(policy, cases)
    assert not wrong, f"{policy}: {len(wrong)} of {len(cases)} cases wrong:\n  " + "\n  ".join(wrong)


@pytest.mark.parametrize("policy", sorted(CHECKS))
def test_a_wrong_vector_is_caught(policy):
    # The check itself must be able to fail: spoil each case's expectation in turn.
    for case in VECTORS[policy]:
        bad = dict(case)
        key = next(k for k in bad if k.startswith("expect"))
        v = bad[key]
        if isinstance(v, bool):
            bad[key] = not v
        elif isinstance(v, str):
            bad[key] = v + "_spoiled"
        else:
            bad[key] = v * 1.001 + 1
        assert wrong_cases(policy, [bad]), f"{policy}: a spoiled case passed: {bad}"


def test_generated_constants_match_the_spec_file():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the vectors above run on 3.10 too
    with open(SPEC, "rb") as f:
        spec = tomllib.load(f)
    expected = {f"{group}_{key}".upper(): value for group, table in spec.items() for key, value in table.items()}
    generated = {name: getattr(runtime_spec, name) for name in dir(runtime_spec) if name.isupper()}
    assert generated == expected, "polyray/protocol/runtime_spec.py is stale: run scripts/gen_runtime_spec.py"
    for name, value in expected.items():
        assert type(generated[name]) is type(value), name
