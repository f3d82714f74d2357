"""ResourceSet and NodeResources arithmetic."""

from __future__ import annotations

import pytest

from polyray.protocol import common_pb2
from polyray.raylet.lease_manager import lease_resources
from polyray.raylet.resources import NodeResources, ResourceSet


def test_fits_acquire_release_fractional():
    node = NodeResources(ResourceSet({"CPU": 1, "GPU": 2}))
    tenth = ResourceSet({"CPU": 0.1})
    for _ in range(10):
        assert node.fits(tenth)
        node.acquire(tenth)
    assert not node.fits(tenth)
    assert node.available.get("CPU") == 0.0
    for _ in range(10):
        node.release(tenth)
    assert node.available == node.total
    node.release(tenth)  # a stray release never exceeds the total
    assert node.available == node.total


def test_can_ever_fit_and_missing():
    node = NodeResources(ResourceSet({"CPU": 2}))
    big = ResourceSet({"CPU": 4, "GPU": 1})
    assert not node.can_ever_fit(big)
    assert big.missing_from(node.total) == {"CPU": 2.0, "GPU": 1.0}
    assert node.can_ever_fit(ResourceSet({"CPU": 2}))
    with pytest.raises(ValueError, match="cannot take 4 CPU"):
        node.acquire(big)


def test_validation_and_zero_amounts():
    with pytest.raises(ValueError, match="'CPU' must not be negative"):
        ResourceSet({"CPU": -1})
    with pytest.raises(ValueError, match="finite"):
        ResourceSet({"GPU": float("nan")})
    assert ResourceSet({"CPU": 0}).is_empty()
    assert str(ResourceSet({"GPU": 0.5, "CPU": 2})) == "{CPU: 2, GPU: 0.5}"


def test_lease_resource_defaults():
    normal = common_pb2.TaskSpec(type=common_pb2.NORMAL_TASK)
    assert lease_resources(normal).to_dict() == {"CPU": 1.0}
    normal.resources["CPU"] = 0
    assert lease_resources(normal).is_empty()  # num_cpus=0 asked explicitly
    actor = common_pb2.TaskSpec(type=common_pb2.ACTOR_CREATION_TASK)
    assert lease_resources(actor).is_empty()
    actor.resources["GPU"] = 1
    assert lease_resources(actor).to_dict() == {"GPU": 1.0}
