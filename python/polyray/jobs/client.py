"""A small HTTP client of the jobs REST API (what ``polyray job`` uses; docs/jobs.md).

``JobClient(address)``: ``address`` is the dashboard's URL (``http://host:port``)
or a GCS address (``host:port``), whose dashboard URL the head put in its KV.
With no address: ``POLYRAY_DASHBOARD_ADDRESS``, then ``POLYRAY_ADDRESS``,
then the head ``polyray start --head`` recorded on this machine. Every
request carries the cluster token (Authorization: Bearer).
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from polyray.protocol import auth

ENV_DASHBOARD = "POLYRAY_DASHBOARD_ADDRESS"
TIMEOUT_S = 30.0


class JobClientError(RuntimeError):
    """The server refused a request (``status``) or could not be reached (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def dashboard_of(gcs_address: str, timeout: float = 10.0) -> str:
    """The dashboard URL a head put in its GCS ("" when it serves none)."""
    from polyray.protocol import gcs_pb2, gcs_pb2_grpc
    with auth.channel(gcs_address) as ch:
        reply = gcs_pb2_grpc.GcsServiceStub(ch).KVGet(
            gcs_pb2.KVGetRequest(namespace="cluster", key=b"dashboard_url"), timeout=timeout)
    return reply.value.decode() if reply.found else ""


def resolve_dashboard(address: str | None) -> str:
    """The dashboard URL to talk to (see the module docstring)."""
    address = address or os.environ.get(ENV_DASHBOARD) or None
    if address is None:
        env = os.environ.get("POLYRAY_ADDRESS")
        if env and env != "auto":
            address = env
    if address is not None and address.startswith(("http://", "https://")):
        return address.rstrip("/")
    from polyray.util import state
    try:
        gcs = state.resolve_address(address)
    except state.StateApiError as e:
        raise JobClientError(0, f"no cluster: pass --address (the dashboard URL or the GCS host:port): {e}") from None
    import grpc
    try:
        url = dashboard_of(gcs)
    except grpc.RpcError as e:
        raise JobClientError(0, f"the GCS at {gcs} did not answer: {e.code().name}") from None
    if not url:
        raise JobClientError(0, f"the head at {gcs} serves no dashboard (started with --no-include-dashboard?)")
    return url


class JobClient:
    def __init__(self, address: str | None = None, token: str | None = None) -> None:
        self.url = resolve_dashboard(address)
        self._token = token if token is not None else auth.current_token()
        self._ssl: ssl.SSLContext | None = None
        if self.url.startswith("https://"):
            ca = auth.tls_files()[0] if auth.tls_enabled() else None
            self._ssl = ssl.create_default_context(cadata=ca.decode() if ca else None)

    def _open(self, method: str, path: str, body: Any = None, timeout: float = TIMEOUT_S) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            return urllib.request.urlopen(req, timeout=timeout, context=self._ssl)
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                text = json.loads(text).get("msg", text)
            except (ValueError, AttributeError):
                pass
            raise JobClientError(e.code, f"{method} {path}: {e.code}: {text.strip()}") from None
        except (urllib.error.URLError, OSError) as e:
            raise JobClientError(0, f"the dashboard at {self.url} did not answer: {e}") from None

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        with self._open(method, path, body) as r:
            return json.loads(r.read())

    @staticmethod
    def _id(job_id: str) -> str:
        return urllib.parse.quote(job_id, safe="")

    def submit(self, entrypoint: str, **fields: Any) -> str:
        body = {"entrypoint": entrypoint, **{k: v for k, v in fields.items() if v is not None}}
        return str(self._json("POST", "/api/jobs/", body)["submission_id"])

    def info(self, job_id: str) -> dict:
        return dict(self._json("GET", f"/api/jobs/{self._id(job_id)}"))

    def list(self) -> list[dict]:
        return list(self._json("GET", "/api/jobs/"))

    def stop(self, job_id: str, grace_s: float | None = None) -> bool:
        q = f"?grace_s={grace_s}" if grace_s is not None else ""
        return bool(self._json("POST", f"/api/jobs/{self._id(job_id)}/stop{q}")["stopped"])

    def delete(self, job_id: str) -> bool:
        return bool(self._json("DELETE", f"/api/jobs/{self._id(job_id)}")["deleted"])

    def logs(self, job_id: str) -> str:
        return str(self._json("GET", f"/api/jobs/{self._id(job_id)}/logs")["logs"])

    def version(self) -> dict:
        return dict(self._json("GET", "/api/version"))

    def tail(self, job_id: str, timeout_s: float = 300.0) -> Iterator[bytes]:
        """The job's log as it grows, from the start, until the job ends (reconnecting every ``timeout_s``)."""
        offset = 0
        while True:
            ended = self.info(job_id)["status"] in ("SUCCEEDED", "FAILED", "STOPPED")
            path = f"/api/jobs/{self._id(job_id)}/logs/tail?timeout={timeout_s:g}&offset={offset}"
            with self._open("GET", path, timeout=timeout_s + TIMEOUT_S) as r:
                while True:
                    chunk = r.read1(65536) if hasattr(r, "read1") else r.read(65536)
                    if not chunk:
                        break
                    offset += len(chunk)
                    yield chunk
            if ended:  # it had ended before this round began: the round read its log to the end
                return
