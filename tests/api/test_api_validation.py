"""Decoration, option and placement-group checks that raise where Ray raises."""

from __future__ import annotations

import pytest

import polyray
from polyray.util.placement_group import placement_group, remove_placement_group
from polyray.util.scheduling_strategies import PlacementGroupSchedulingStrategy


def test_async_def_task_is_refused_at_decoration():
    async def coro():
        return 1
    with pytest.raises(ValueError, match="'async def' should not be used for remote tasks"):
        polyray.remote(coro)


def test_empty_parentheses_are_refused():
    with pytest.raises(TypeError, match="no arguments and no parentheses"):
        polyray.remote()


def test_wrongly_typed_option_is_a_type_error():
    def f():
        return 1
    with pytest.raises(TypeError, match="num_cpus"):
        polyray.remote(num_cpus="2")(f)
    with pytest.raises(TypeError, match="max_retries"):
        polyray.remote(max_retries=1.5)(f)
    with pytest.raises(ValueError, match="num_cpus"):  # a bad value of the right type stays a ValueError
        polyray.remote(num_cpus=-1)(f)


@polyray.remote
def one():
    return 1


@polyray.remote
class Small:
    def ping(self):
        return 1


def test_placement_group_bundles_are_validated_as_in_ray(cluster):
    with pytest.raises(ValueError):
        placement_group([])
    with pytest.raises(ValueError):
        placement_group([{}])
    with pytest.raises(ValueError):
        placement_group([{"CPU": -1}])
    with pytest.raises(ValueError):
        placement_group([{"CPU": "1"}])
    # Custom resource names are fine (Ray accepts them; the group stays pending).
    pg = placement_group([{"bundle": 1}])
    remove_placement_group(pg)


def test_request_that_fits_no_bundle_is_refused_at_submission(cluster):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}])
    assert polyray.get(pg.ready(), timeout=60) is True
    try:
        with pytest.raises(ValueError, match="fits none of its bundles"):
            one.options(num_cpus=2, scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote()
        with pytest.raises(ValueError, match="bundle 1"):
            one.options(num_gpus=1, scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 1)).remote()
        with pytest.raises(ValueError, match="out of range"):
            one.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 2)).remote()
        with pytest.raises(ValueError, match="placement group"):
            Small.options(num_cpus=3, scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote()
        # What fits still runs.
        assert polyray.get(one.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 0)).remote(),
                           timeout=60) == 1
    finally:
        remove_placement_group(pg)
