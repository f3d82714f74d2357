"""Utilities of the public API, laid out as in Ray.

``polyray.util.scheduling_strategies``: ``NodeAffinitySchedulingStrategy`` and
``PlacementGroupSchedulingStrategy``, passed as ``scheduling_strategy=`` to
``@polyray.remote`` or ``.options()``.

``polyray.util.placement_group``: ``placement_group()``, ``PlacementGroup``
(``ready()``, ``wait()``), ``remove_placement_group()``,
``get_placement_group(name)`` and ``placement_group_table()``: reserve bundles of resources across nodes at once.

``polyray.util.ActorPool``: spread work over a set of actors
(``polyray.util.actor_pool``); ``polyray.util.queue.Queue``: a FIFO queue
backed by an actor, shared by tasks and actors.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "ActorPool":
        from polyray.util.actor_pool import ActorPool
        return ActorPool
    raise AttributeError(f"module 'polyray.util' has no attribute {name!r}")
