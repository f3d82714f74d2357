"""$POLYRAY_INCLUDE_DASHBOARD: the head's dashboard default (polyray.node)."""

from __future__ import annotations

import os
import shutil

import pytest

from polyray import node


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("1", True), ("0", False), (" 0 ", False),
                                                 ("", True)])
def test_the_env_sets_the_default(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(node.ENV_INCLUDE_DASHBOARD, raising=False)
    else:
        monkeypatch.setenv(node.ENV_INCLUDE_DASHBOARD, value)
    assert node.dashboard_by_default() is expected
    assert node.parse_args(["--head"]).include_dashboard is expected


def test_an_explicit_flag_beats_the_env(monkeypatch):
    monkeypatch.setenv(node.ENV_INCLUDE_DASHBOARD, "0")
    assert node.parse_args(["--head", "--include-dashboard"]).include_dashboard is True
    monkeypatch.setenv(node.ENV_INCLUDE_DASHBOARD, "1")
    assert node.parse_args(["--head", "--no-include-dashboard"]).include_dashboard is False


def test_the_embedded_head_is_told_no_dashboard(monkeypatch):
    """start_embedded_head passes --no-include-dashboard (and no URL file to wait for) under "0"."""
    seen: list[list[str]] = []

    class Stop(Exception):
        pass

    def fake_popen(cmd, *args, **kwargs):
        seen.append(list(cmd))
        raise Stop

    monkeypatch.setenv(node.ENV_INCLUDE_DASHBOARD, "0")
    monkeypatch.setattr(node.subprocess, "Popen", fake_popen)
    with pytest.raises(Stop):
        node.start_embedded_head(num_cpus=1)
    assert "--no-include-dashboard" in seen[0] and "--dashboard-url-file" not in seen[0]
    monkeypatch.setenv(node.ENV_INCLUDE_DASHBOARD, "1")
    with pytest.raises(Stop):
        node.start_embedded_head(num_cpus=1)
    assert "--dashboard-url-file" in seen[1] and "--no-include-dashboard" not in seen[1]
    for cmd in seen:  # the session folders start_embedded_head made before its (failed) start
        shutil.rmtree(os.path.dirname(cmd[cmd.index("--address-file") + 1]), ignore_errors=True)
