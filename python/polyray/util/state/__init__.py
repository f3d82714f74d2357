"""The state API: what the cluster holds, with Ray's names (docs/observability.md).

    from polyray.util.state import list_tasks, summarize_tasks
    list_tasks(filters=[("state", "=", "FAILED"), ("language", "=", "JAVA")], limit=10)
    summarize_tasks()

Every ``list_*`` returns a list of plain dicts (JSON-ready: ids in hex,
enums by name), at most ``limit`` of them, filtered by ``filters``: a list of
``(key, "=" | "!=", value)``; values compare as strings, case-insensitively.
``detail=True`` adds every column. ``get_*`` returns one dict or None.
``summarize_*`` counts by name and state.

The cluster is found from ``address`` (``host:port`` of the GCS), else
``POLYRAY_ADDRESS``, else the cluster this process is connected to, else the
head ``polyray start`` started on this machine. Calls carry the cluster's
token (and TLS) as every other client does. Tasks are paginated by the GCS
(``events.max_per_query`` rows per call): a list asks for pages until it has
``limit`` rows.

The functions are blocking and thread-safe; the dashboard calls them from a
thread pool.

The functions live in modules named for what they show (tasks, actors,
cluster: nodes, jobs, workers and placement groups; objects: objects and
memory; summaries; logs); this module is the public one and holds all their
names.
"""

from __future__ import annotations

from collections.abc import Callable

from polyray.util.state._common import (
    DEFAULT_LIMIT,
    DEFAULT_TIMEOUT_S,
    MAX_LIMIT,
    Filter,
    StateApiError,
    _call,
    _check_filters,
    _finish,
    _hex,
    _language,
    _limit,
    _matches,
    _nodes,
    resolve_address,
)
from polyray.util.state.actors import ACTOR_COLUMNS, actor_row, get_actor, list_actors
from polyray.util.state.cluster import (
    JOB_COLUMNS,
    NODE_COLUMNS,
    PLACEMENT_GROUP_COLUMNS,
    WORKER_COLUMNS,
    get_job,
    get_node,
    get_placement_group,
    get_worker,
    job_row,
    list_jobs,
    list_nodes,
    list_placement_groups,
    list_workers,
    node_row,
    placement_group_row,
)
from polyray.util.state.logs import LOG_COLUMNS, LogNotFound, get_log, list_logs, locate_log
from polyray.util.state.objects import (
    CALL_SITE_DISABLED,
    OBJECT_COLUMNS,
    REFERENCE_TYPES,
    ObjectListing,
    get_object,
    list_objects,
    memory_summary,
    object_row,
    query_objects,
    reference_kinds,
)
from polyray.util.state.summaries import summarize_actors, summarize_objects, summarize_tasks
from polyray.util.state.tasks import (
    TASK_COLUMNS,
    _task_pages,
    _task_request,
    get_task,
    list_tasks,
    task_drop_counts,
    task_row,
)

__all__ = [
    "ACTOR_COLUMNS", "CALL_SITE_DISABLED", "DEFAULT_LIMIT", "DEFAULT_TIMEOUT_S", "GETS", "JOB_COLUMNS", "LISTS",
    "LOG_COLUMNS", "MAX_LIMIT", "NODE_COLUMNS", "OBJECT_COLUMNS", "PLACEMENT_GROUP_COLUMNS", "REFERENCE_TYPES",
    "SUMMARIES", "TASK_COLUMNS", "WORKER_COLUMNS", "Filter", "LogNotFound", "ObjectListing", "StateApiError",
    "_call", "_check_filters", "_finish", "_hex", "_language", "_limit", "_matches", "_nodes", "_task_pages",
    "_task_request", "actor_row", "get_actor", "get_job", "get_log", "get_node", "get_object",
    "get_placement_group", "get_task", "get_worker", "job_row", "list_actors", "list_jobs", "list_logs",
    "list_nodes", "list_objects", "list_placement_groups", "list_tasks", "list_workers", "locate_log",
    "memory_summary", "node_row", "object_row", "placement_group_row", "query_objects", "reference_kinds",
    "resolve_address", "summarize_actors", "summarize_objects", "summarize_tasks", "task_drop_counts", "task_row",
]

LISTS: dict[str, Callable[..., list[dict]]] = {
    "actors": list_actors, "tasks": list_tasks, "nodes": list_nodes, "workers": list_workers,
    "jobs": list_jobs, "placement-groups": list_placement_groups, "objects": list_objects,
}
GETS: dict[str, Callable[..., dict | None]] = {
    "actors": get_actor, "tasks": get_task, "nodes": get_node, "workers": get_worker, "jobs": get_job,
    "placement-groups": get_placement_group, "objects": get_object,
}
SUMMARIES: dict[str, Callable[..., dict]] = {"tasks": summarize_tasks, "actors": summarize_actors,
                                             "objects": summarize_objects}
