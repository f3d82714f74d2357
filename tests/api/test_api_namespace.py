"""The job's namespace reaches its workers (tasks and actors), as in Ray."""

from __future__ import annotations

import gc

import pytest

import polyray


@pytest.fixture(scope="module")
def ns_cluster():
    if polyray.is_initialized():
        polyray.shutdown()
    info = polyray.init(num_cpus=2, namespace="ns1")
    try:
        yield info
    finally:
        gc.collect()
        polyray.shutdown()


@polyray.remote
class Named:
    def ping(self):
        return "pong"

    def namespace(self):
        return polyray.get_runtime_context().namespace


@polyray.remote
def namespace_in_task():
    return polyray.get_runtime_context().namespace


@polyray.remote
def call_named(name):
    return polyray.get(polyray.get_actor(name).ping.remote())


@polyray.remote
def create_named(name):
    a = Named.options(name=name, lifetime="detached").remote()
    return polyray.get(a.ping.remote())


def test_namespace_in_tasks_and_actors(ns_cluster):
    assert polyray.get_runtime_context().namespace == "ns1"
    assert polyray.get(namespace_in_task.remote(), timeout=30) == "ns1"
    a = Named.remote()
    assert polyray.get(a.namespace.remote(), timeout=30) == "ns1"


def test_get_actor_in_task_finds_the_jobs_named_actor(ns_cluster):
    a = Named.options(name="foo").remote()
    assert polyray.get(a.ping.remote(), timeout=30) == "pong"
    assert polyray.get(call_named.remote("foo"), timeout=30) == "pong"


def test_actor_named_in_a_task_lands_in_the_jobs_namespace(ns_cluster):
    assert polyray.get(create_named.remote("made-in-task"), timeout=30) == "pong"
    assert polyray.get(polyray.get_actor("made-in-task", namespace="ns1").ping.remote(), timeout=30) == "pong"
    with pytest.raises(ValueError):
        polyray.get_actor("made-in-task", namespace="")
    polyray.kill(polyray.get_actor("made-in-task"))
