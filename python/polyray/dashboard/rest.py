"""The REST state API under Ray's paths, over ``polyray.util.state``.

``GET /api/v0/<kind>`` for nodes, actors, tasks, objects, jobs,
placement_groups, workers; ``GET /api/v0/tasks/summarize``,
``/api/v0/actors/summarize`` and ``/api/v0/objects/summarize`` (objects add
Ray's ``partial_failure_warning``: processes that did not answer in time).
Query parameters as Ray's: ``filter_keys``, ``filter_predicates`` (``=`` or
``!=``), ``filter_values`` (repeated, matched by position), ``limit``
(default 100, capped at ``state.MAX_LIMIT``), ``detail``; polyray adds
``offset`` for pages. The reply is Ray's envelope:
``{"result": true, "msg": "", "data": {"result": {"total", "num_after_truncation",
"offset", "next_offset", "result": [...]}}}``; a bad query is 400 with
``result: false`` and the reason in ``msg``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from polyray.util import state

KINDS: dict[str, Callable[..., list[dict]]] = {
    "nodes": state.list_nodes, "actors": state.list_actors, "tasks": state.list_tasks, "jobs": state.list_jobs,
    "placement_groups": state.list_placement_groups, "workers": state.list_workers, "objects": state.list_objects,
}
SUMMARIES: dict[str, Callable[..., dict]] = {"tasks": state.summarize_tasks, "actors": state.summarize_actors,
                                             "objects": state.summarize_objects}


def parse_filters(q: Any) -> list[state.Filter]:
    """Ray's filter_keys / filter_predicates / filter_values, and polyray's ``filter=key=value``."""
    keys, preds, values = q.getall("filter_keys", []), q.getall("filter_predicates", []), q.getall("filter_values", [])
    if not (len(keys) == len(preds) == len(values)):
        raise ValueError("filter_keys, filter_predicates and filter_values must come in equal numbers")
    out: list[state.Filter] = [(k, p, v) for k, p, v in zip(keys, preds, values, strict=True)]
    for f in q.getall("filter", []):
        op = "!=" if "!=" in f else "="
        key, sep, value = f.partition(op)
        if not sep or not key:
            raise ValueError(f"filter {f!r}: expected key=value or key!=value")
        out.append((key, op, value))
    for k, op, _ in out:
        if op not in ("=", "!="):
            raise ValueError(f"filter on {k!r}: predicate must be '=' or '!=', got {op!r}")
    return out


def _int(q: Any, name: str, default: int, lo: int) -> int:
    text = q.get(name)
    if text is None or text == "":
        return default
    try:
        v = int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None
    if v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    return v


def _envelope(data: Any, status: int = 200, msg: str = "") -> web.Response:
    return web.json_response({"result": status == 200, "msg": msg, "data": {"result": data}}, status=status)


def list_page(address: str, kind: str, q: Any) -> dict:
    """One page of ``kind`` (blocking)."""
    filters = parse_filters(q)
    limit = min(_int(q, "limit", state.DEFAULT_LIMIT, 1), state.MAX_LIMIT)
    offset = _int(q, "offset", 0, 0)
    detail = q.get("detail", "").lower() in ("1", "true", "yes")
    want = min(offset + limit, state.MAX_LIMIT)
    warning = ""
    if kind == "objects":
        rows, warning = _object_rows(address, filters, want, detail) if offset < want else ([], "")
    else:
        rows = KINDS[kind](address, filters=filters, limit=want, detail=detail) if offset < want else []
    page = rows[offset:offset + limit]
    more = len(rows) == want and offset + limit < state.MAX_LIMIT
    out = {"total": len(rows), "truncated": more, "num_after_truncation": len(page), "offset": offset,
           "next_offset": offset + len(page) if more else None, "result": page}
    if kind == "objects":
        out["partial_failure_warning"] = warning  # Ray's field: processes that did not answer in time
    return out


def _object_rows(address: str, filters: list[state.Filter], want: int, detail: bool) -> tuple[list[dict], str]:
    listing = state.query_objects(address, limit=state.MAX_LIMIT if filters else want)
    rows = [r for r in listing.rows if state._matches(r, filters)][:want]
    if not detail:
        rows = [{k: r[k] for k in state.OBJECT_COLUMNS} for r in rows]
    return rows, listing.warning()


class Rest:
    """The /api/v0 routes of one dashboard."""

    def __init__(self, address: str, run: Callable[..., Any],
                 summarize_tasks: Callable[[list[state.Filter]], Awaitable[dict]] | None = None) -> None:
        self.address = address
        self._run = run  # runs a blocking call in the dashboard's thread pool
        self._summarize_tasks = summarize_tasks

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v0/{kind}/summarize", self.summarize),
            web.get("/api/v0/{kind}", self.list),
            web.get("/api/v0/{kind}/{id}", self.get),
        ]

    async def list(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in KINDS:
            return _envelope(None, 404, f"no such kind {kind!r}; kinds: {', '.join(KINDS)}")
        try:
            return _envelope(await self._run(list_page, self.address, kind, request.query))
        except (ValueError, state.StateApiError) as e:
            return _envelope(None, 400 if isinstance(e, ValueError) else 503, str(e))

    async def summarize(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in SUMMARIES:
            return _envelope(None, 404, f"no summary of {kind!r}; summaries: {', '.join(SUMMARIES)}")
        try:
            filters = parse_filters(request.query)
            if kind == "tasks" and self._summarize_tasks is not None:
                return _envelope(await self._summarize_tasks(filters))
            return _envelope(await self._run(SUMMARIES[kind], self.address, filters))
        except (ValueError, state.StateApiError) as e:
            return _envelope(None, 400 if isinstance(e, ValueError) else 503, str(e))

    async def get(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"].replace("_", "-")
        fn = state.GETS.get(kind)
        if fn is None:
            return _envelope(None, 404, f"no such kind {kind!r}")
        try:
            row = await self._run(fn, request.match_info["id"], self.address)
        except (ValueError, state.StateApiError) as e:
            return _envelope(None, 400 if isinstance(e, ValueError) else 503, str(e))
        if row is None:
            return _envelope(None, 404, f"no {kind} {request.match_info['id']}")
        return _envelope(row)

