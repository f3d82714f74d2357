"""Task summaries read from the GCS's own rows, when the dashboard runs in the head's process.

``polyray.util.state.summarize_tasks`` pages every row through GetTaskEvents
and builds a dict per row: ~3 s for 100,000 rows on the test machine, too
slow for a page or a 10 s metrics sample. In the head the dashboard shares
the GCS's event loop and its ``TaskEvents``, so it counts the rows where they
are (~20-60 ms for 100,000), on the loop, with no copy. Same result shape as
``state.summarize_tasks``; filters on name, state, language, type and job_id
only (``None`` for any other: the caller falls back to the state API).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from polyray.protocol import common_pb2, gcs_pb2

_COLUMNS = ("name", "state", "language", "type", "job_id")
_STATES = {v.number: v.name for v in gcs_pb2.TaskEventState.DESCRIPTOR.values}
_LANGS = {v.number: v.name for v in common_pb2.Language.DESCRIPTOR.values}
_TYPES = {v.number: v.name for v in common_pb2.TaskType.DESCRIPTOR.values}


def supported(filters: Sequence[tuple[str, str, Any]]) -> bool:
    return all(k in _COLUMNS and op in ("=", "!=") for k, op, _ in filters)


def summarize(task_events: Any, filters: Sequence[tuple[str, str, Any]] = ()) -> dict | None:
    """``{"summary": {name: {"name", "language", "type", "state_counts"}}, "total": N}`` over every
    row the GCS keeps, or None when a filter is on another column. Call it on the GCS's loop."""
    if not supported(filters):
        return None
    texts: list[tuple[str, str, bool]] = []  # (name | job_id, lower-case value, equal?)
    numbers: list[tuple[str, frozenset[int], bool]] = []  # (state | language | type, values, equal?)
    for key, op, value in filters:
        eq = op == "="
        text = str(value).lower()
        if key in ("name", "job_id"):
            texts.append((key, text, eq))
        else:
            table = {"state": _STATES, "language": _LANGS, "type": _TYPES}[key]
            ns = {n for n, label in table.items() if label.lower() == text}
            if key == "language" and 0 in ns:
                ns.add(-1)  # a row whose language is not known yet shows as the proto default
            numbers.append((key, frozenset(ns), eq))

    def keep(r: Any) -> bool:
        for attr, ns, eq in numbers:
            if (getattr(r, attr) in ns) != eq:
                return False
        for attr, text, eq in texts:
            v = r.name.lower() if attr == "name" else r.job_id.hex()
            if (v == text) != eq:
                return False
        return True

    counts: Counter[tuple[str, int, int, int]] = Counter()
    for ring in list(task_events._jobs.values()):
        rows = ring.order[ring.head:] if ring.head else ring.order
        if filters:
            rows = [r for r in rows if keep(r)]
        counts.update((r.name, r.language, r.type, r.state) for r in rows)
    summary: dict[str, dict] = {}
    total = 0
    for (name, lang, typ, st), n in counts.items():
        lang = max(lang, 0)
        entry = summary.setdefault(name, {"name": name, "language": _LANGS.get(lang, ""),
                                          "type": _TYPES.get(typ, ""), "state_counts": {}})
        sname = _STATES.get(st, str(st))
        entry["state_counts"][sname] = entry["state_counts"].get(sname, 0) + n
        total += n
    return {"summary": summary, "total": total}
