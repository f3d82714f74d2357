"""The dashboard: web pages, the REST state API and Prometheus metrics of a cluster.

Started with the head (``python -m polyray.node --head``, ``polyray start
--head``, the embedded head of ``polyray.init()``) on 127.0.0.1:8265 unless
told otherwise; every request carries the cluster token (docs/security.md).

* ``server``: the aiohttp app, token check, start/stop;
* ``rest``: ``/api/v0/...`` over ``polyray.util.state``;
* ``pages``: server-rendered HTML pages;
* ``metrics``: Prometheus families (``/metrics``);
* ``metrics_history``: samples of the last hour, in memory, for the charts.
"""

from polyray.dashboard.server import DashboardServer

__all__ = ["DashboardServer"]
