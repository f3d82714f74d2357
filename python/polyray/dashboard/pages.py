"""Server-rendered HTML pages of the dashboard (no npm; a little inline JavaScript).

Cluster (nodes, resources, store use), jobs, actors, tasks (filter by state,
language, name; timings), logs (where each node's log files are), metrics
(charts of the last hour as inline SVG from ``metrics_history``). Every page
is built from the same ``polyray.util.state`` calls as the REST API.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

from polyray.dashboard.metrics_history import MetricsHistory
from polyray.util import state

NAV = (("/", "Cluster"), ("/jobs", "Jobs"), ("/actors", "Actors"), ("/tasks", "Tasks"), ("/logs", "Logs"),
       ("/metrics-charts", "Metrics"))
#: Rows a page shows at most (the REST API pages further).
PAGE_ROWS = 500

_CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}
header{background:#1f3b57;color:#fff;padding:8px 16px;display:flex;gap:18px;align-items:center}
header a{color:#cfe3f7;text-decoration:none}header a.on{color:#fff;font-weight:bold}
main{padding:12px 16px}table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}th{background:#eef2f6}
.ok{color:#17803d}.bad{color:#b3261e}.muted{color:#777;font-size:12px}
.bar{background:#e3e8ee;width:140px;height:10px;display:inline-block}
.bar i{background:#3a78b5;height:10px;display:block}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart{border:1px solid #ddd;padding:6px}
"""


def esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def layout(title: str, path: str, body: str, took_s: float) -> str:
    nav = "".join(f'<a href="{h}" class="{"on" if h == path else ""}">{esc(t)}</a>' for h, t in NAV)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>polyray · {esc(title)}</title>"
            f"<style>{_CSS}</style></head><body><header><b>polyray</b>{nav}</header><main>"
            f"<h2>{esc(title)}</h2>{body}<p class='muted'>rendered in {took_s * 1000:.1f} ms at "
            f"{time.strftime('%H:%M:%S')}; JSON: <a href='/api/v0/nodes'>/api/v0/...</a>, "
            f"<a href='/metrics'>/metrics</a></p></main></body></html>")


def table(rows: Sequence[dict], columns: Sequence[str], empty: str = "none") -> str:
    if not rows:
        return f"<p class='muted'>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for r in rows[:PAGE_ROWS]:
        cells = []
        for c in columns:
            v = r.get(c, "")
            cls = ("ok" if v in ("ALIVE", "RUNNING", "FINISHED") else "bad" if v in ("DEAD", "FAILED") else "")
            text = v[:77] + "..." if isinstance(v, str) and len(v) > 80 else v
            cells.append(f"<td class='{cls}'>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p class='muted'>first {PAGE_ROWS} of {len(rows)} shown</p>" if len(rows) > PAGE_ROWS else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def _bar(used: float, total: float) -> str:
    pct = 0.0 if total <= 0 else max(0.0, min(100.0, 100.0 * used / total))
    return f"<span class='bar'><i style='width:{pct:.0f}%'></i></span> {used:g} / {total:g}"


def cluster_body(address: str, store: dict[str, tuple[int, int, int]]) -> str:
    nodes = state.list_nodes(address, limit=state.MAX_LIMIT, detail=True)
    rows = []
    for n in nodes:
        res = " ".join(f"{k}: {_bar(v - n['resources_available'].get(k, 0.0), v)}"
                       for k, v in sorted(n["resources_total"].items()) if not k.startswith("node:"))
        used, cap, objs = store.get(n["node_id"], (0, 0, 0))
        rows.append({"node_id": n["node_id"], "state": n["state"], "node_ip": n["node_ip"],
                     "raylet": n["raylet_address"], "resources": res,
                     "store": f"{used / 2**20:.1f} / {cap / 2**20:.0f} MiB, {objs} objects" if cap else "?"})
    t = table(rows, ("node_id", "state", "node_ip", "raylet", "store"), "no nodes")
    # The resources column holds bars (HTML built here from numbers, not user text).
    res_html = "".join(f"<tr><td>{esc(r['node_id'][:12])}</td><td>{r['resources']}</td></tr>" for r in rows)
    return (f"<p>GCS {esc(address)}; {sum(1 for n in nodes if n['state'] == 'ALIVE')} alive node(s)</p>{t}"
            f"<h3>Resources</h3><table><tr><th>node</th><th>used / total</th></tr>{res_html}</table>")


def jobs_body(address: str) -> str:
    from polyray.jobs.store import list_submissions  # submitted jobs (docs/jobs.md)
    subs = [{"submission_id": r.submission_id, "status": r.status.value, "job_id": r.driver_job_id or "",
             "entrypoint": r.entrypoint[:120], "message": r.message.splitlines()[0][:160] if r.message else "",
             "exit_code": "" if r.exit_code is None else r.exit_code}
            for r in sorted(list_submissions(address), key=lambda r: -r.submit_time)]
    return (table(state.list_jobs(address, limit=state.MAX_LIMIT), state.JOB_COLUMNS, "no jobs")
            + "<h3>Submitted jobs</h3>"
            + table(subs, ("submission_id", "status", "job_id", "entrypoint", "message", "exit_code"),
                    "no submitted jobs (polyray job submit)"))


def actors_body(address: str) -> str:
    rows = state.list_actors(address, limit=state.MAX_LIMIT)  # one query: the summary is counted here
    summary: dict[tuple[str, str], dict[str, int]] = {}
    for r in rows:
        counts = summary.setdefault((r["class_name"], r["language"]), {})
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    srows = [{"class_name": k[0], "language": k[1],
              "states": ", ".join(f"{s}: {n}" for s, n in sorted(v.items()))} for k, v in sorted(summary.items())]
    return (table(srows, ("class_name", "language", "states"), "no actors") + "<h3>All actors</h3>"
            + table(rows, state.ACTOR_COLUMNS, "no actors"))


def task_filters(q: Any) -> list[state.Filter]:
    """The tasks page's filters from its query (state, language, name, job_id)."""
    filters: list[state.Filter] = []
    for key in ("state", "language", "name", "job_id"):
        v = (q.get(key) or "").strip()
        if v:
            filters.append((key, "=", v))
    return filters


def tasks_body(address: str, q: Any, summary: dict | None = None) -> str:
    """The tasks page; ``summary`` when the caller counted it already (else asked of the state API)."""
    filters = task_filters(q)
    keys = ("state", "language", "name", "job_id")
    form = ("<form method='get'>" + "".join(
        f"{k} <input name='{k}' value='{esc(q.get(k, ''))}' size='12'> " for k in keys)
        + "<button>filter</button> <span class='muted'>e.g. state=FAILED, language=JAVA</span></form>")
    try:
        rows = state.list_tasks(address, filters=filters, limit=PAGE_ROWS, detail=True)
    except ValueError as e:
        return form + f"<p class='bad'>{esc(e)}</p>"
    if summary is None:
        summary = state.summarize_tasks(address, filters=filters)
    srows = [{"name": k, "language": v["language"], "type": v["type"],
              "states": ", ".join(f"{s}: {n}" for s, n in sorted(v["state_counts"].items()))}
             for k, v in sorted(summary["summary"].items())]
    return (form + f"<h3>Summary ({summary['total']} attempts)</h3>"
            + table(srows, ("name", "language", "type", "states"), "no tasks")
            + f"<h3>Attempts (first {PAGE_ROWS})</h3>"
            + table(rows, ("task_id", "attempt_number", "name", "state", "language", "type", "node_id",
                           "worker_pid", "duration_ms", "error_type"), "no tasks match"))


def logs_body(address: str, session_dirs: Iterable[str]) -> str:
    items = []
    for d in session_dirs:
        if os.path.isdir(d):
            files = sorted(os.listdir(d))[:200]
            items.append(f"<li><code>{esc(d)}</code>: {len(files)} file(s)<ul>"
                         + "".join(f"<li>{esc(f)}</li>" for f in files) + "</ul></li>")
        else:
            items.append(f"<li><code>{esc(d)}</code> (not created yet)</li>")
    try:
        files = state.list_logs(address, detail=True, limit=PAGE_ROWS)
    except Exception as e:  # the GCS or a raylet away: the folders of this node still show
        listing = f"<p class='bad'>the nodes' files could not be listed: {esc(e)}</p>"
    else:
        rows = []
        for f in files:
            link = (f"/api/v0/logs/file?node_id={esc(f['node_id'])}&amp;filename={esc(f['filename'])}"
                    f"&amp;lines=1000")
            rows.append(f"<tr><td>{esc(f['node_id'][:12])}</td><td><a href='{link}'>{esc(f['filename'])}</a></td>"
                        f"<td>{f['size']}</td><td>{f['pid'] or ''}</td><td>{'yes' if f['alive'] else ''}</td></tr>")
        listing = ("<h3>Every node's files (the last 1,000 lines of each behind its link)</h3>"
                   + ("<table><tr><th>node</th><th>file</th><th>bytes</th><th>pid</th><th>running</th></tr>"
                      + "".join(rows) + "</table>" if rows else "<p class='muted'>no log files</p>"))
    return ("<p>Each node writes its workers' output under its session folder; read them with "
            "<code>polyray logs</code> (or <code>/api/v0/logs</code>). This node's folders:</p><ul>"
            + "".join(items) + "</ul>" + listing)


def _chart(name: str, points: list[tuple[float, float]], w: int = 360, h: int = 120) -> str:
    if not points:
        return f"<div class='chart'><b>{esc(name)}</b><p class='muted'>no samples yet</p></div>"
    t0, t1 = points[0][0], max(points[-1][0], points[0][0] + 1)
    top = max(v for _, v in points) or 1.0
    xy = " ".join(f"{(t - t0) / (t1 - t0) * w:.1f},{h - v / top * (h - 4):.1f}" for t, v in points)
    return (f"<div class='chart'><b>{esc(name)}</b> <span class='muted'>now {points[-1][1]:g}, max {top:g}</span>"
            f"<br><svg width='{w}' height='{h}' viewBox='0 0 {w} {h}'><rect width='{w}' height='{h}' fill='#f8fafc'/>"
            f"<polyline fill='none' stroke='#3a78b5' stroke-width='1.5' points='{xy}'/></svg></div>")


def metrics_body(history: MetricsHistory) -> str:
    charts = "".join(_chart(n, history.series(n)) for n in history.names())
    return (f"<p>{len(history)} sample(s), one every {history.interval_s:g} s, kept for an hour in memory. "
            "<label><input type='checkbox' id='auto'> refresh every 10 s</label></p>"
            f"<div class='charts'>{charts}</div>"
            "<script>const a=document.getElementById('auto');a.checked=location.hash=='#auto';"
            "a.onchange=()=>{location.hash=a.checked?'auto':''};"
            "setInterval(()=>{if(a.checked)location.reload()},10000)</script>")
