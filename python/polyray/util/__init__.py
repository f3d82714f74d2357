"""Utilities of the public API, laid out as in Ray.

``polyray.util.scheduling_strategies``: ``NodeAffinitySchedulingStrategy`` and
``PlacementGroupSchedulingStrategy``, passed as ``scheduling_strategy=`` to
``@polyray.remote`` or ``.options()``.

``polyray.util.placement_group``: ``placement_group()``, ``PlacementGroup``
(``ready()``, ``wait()``), ``remove_placement_group()`` and
``placement_group_table()``: reserve bundles of resources across nodes at once.
"""
