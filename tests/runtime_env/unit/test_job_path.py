"""A Python worker's sys.path with its driver's import path merged in
(core/function_manager.merge_job_path): the worker's runtime env keeps the lead."""

from __future__ import annotations

from polyray.core.function_manager import merge_job_path

HEX = "0" * 64


def test_driver_paths_go_after_the_runtime_env_in_their_order() -> None:
    current = ["/n/runtime_resources/pkg_" + HEX, "/usr/lib/python3.11", "/venv/lib/python3.11/site-packages"]
    got = merge_job_path(current, ["/home/u/proj", "/home/u/lib", "/usr/lib/python3.11"], current[:1])
    assert got == [current[0], "/home/u/proj", "/home/u/lib", *current[1:]]


def test_the_drivers_runtime_env_copies_are_left_out() -> None:
    """A driver started by a job runs in the head's unpacked working_dir and pip venv: a worker on
    another node has its own copies, and must not read the head's folders when they share a machine."""
    driver = ["/head/logs/runtime_resources/pkg_" + HEX,
              "/head/logs/runtime_resources/pip_026c1b732c57ac2aa7a591eb/lib/python3.11/site-packages",
              "/home/u/extra"]
    got = merge_job_path(["/b/logs/runtime_resources/pkg_" + HEX, "/usr/lib/python3.11"], driver,
                         ["/b/logs/runtime_resources/pkg_" + HEX])
    assert got == ["/b/logs/runtime_resources/pkg_" + HEX, "/home/u/extra", "/usr/lib/python3.11"]


def test_the_drivers_site_packages_come_after_the_workers_own() -> None:
    """A task's pip venv must win over a different version in the driver's venv."""
    current = ["/w/runtime_resources/pip_ab/lib/python3.11/site-packages", "/repo/.venv/lib/python3.11/site-packages"]
    got = merge_job_path(current, ["/script", "/other-venv/lib/python3.11/site-packages",
                                   "/usr/lib/python3/dist-packages", "/repo/.venv/lib/python3.11/site-packages"], [])
    assert got == ["/script", *current, "/other-venv/lib/python3.11/site-packages", "/usr/lib/python3/dist-packages"]


def test_added_once() -> None:
    assert merge_job_path(["/a"], ["/b", "/b", "/a"], []) == ["/b", "/a"]
