"""JobConfig (Ray's) and its merge with init()'s arguments, without a cluster (issue 17)."""

from __future__ import annotations

import pytest

from polyray.job_config import JobConfig, merge


def test_fields_are_checked():
    jc = JobConfig(metadata={"team": "a"}, ray_namespace="ns", code_search_path=["/x"],
                   default_actor_lifetime="detached", runtime_env={"env_vars": {"A": "1"}})
    assert jc.namespace == "ns" and jc.metadata == {"team": "a"} and jc.code_search_path == ["/x"]
    assert JobConfig.from_json(jc.to_json()).to_json() == jc.to_json()
    with pytest.raises(ValueError, match="default_actor_lifetime"):
        JobConfig(default_actor_lifetime="forever")
    with pytest.raises(TypeError):
        JobConfig(metadata={"a": 1})
    with pytest.raises(ValueError):
        JobConfig(runtime_env={"no_such_key": 1})
    with pytest.raises(TypeError):
        JobConfig(code_search_path="/x")


def test_merge_with_init_arguments():
    jc = JobConfig(ray_namespace="ns", runtime_env={"env_vars": {"A": "1"}})
    assert merge(jc, namespace=None, runtime_env=None, code_search_path=["/p"]) == (
        "ns", {"env_vars": {"A": "1"}}, ["/p"])
    assert merge(jc, namespace="ns", runtime_env=None, code_search_path=None)[0] == "ns"  # the same: no conflict
    with pytest.raises(ValueError, match=r"init\(namespace='other'\) and JobConfig\(ray_namespace='ns'\)"):
        merge(jc, namespace="other", runtime_env=None, code_search_path=None)
    with pytest.raises(ValueError, match="runtime_env"):
        merge(jc, namespace=None, runtime_env={"env_vars": {"A": "2"}}, code_search_path=None)
    with pytest.raises(ValueError, match="code_search_path"):
        merge(JobConfig(code_search_path=["/a"]), namespace=None, runtime_env=None, code_search_path=["/b"])
    assert merge(None, namespace="x", runtime_env=None, code_search_path=None) == ("x", None, None)

