"""The record of the cluster running on this machine, and which cluster a driver joins.

``polyray start --head`` (and ``python -m polyray.node --head`` run by hand)
writes ``<temp root>/current_cluster`` once its head serves, as Ray writes
``/tmp/ray/ray_current_cluster``; the head removes it when it stops cleanly
and ``polyray stop`` removes it after its daemons stop. The temp root is
``$TMPDIR/polyray`` (``/tmp/polyray`` when TMPDIR is unset), where
``polyray start`` keeps its daemons' state and logs. An embedded head (one a
driver starts for itself) records nothing.

The file is ``key=value`` lines (so the Java and C++ drivers read it without
a JSON parser): ``gcs_address``, ``dashboard_url``, ``session_dir`` and
``pid`` (the node daemon that owns the cluster). It holds nothing secret —
the cluster token stays where docs/security.md keeps it — but is written
atomically with mode 0600 anyway. A record whose pid is not a running
``polyray.node`` process (it died, or its pid was reused) is ignored and
removed by the reader; one owned by another user, or writable by group or
others, is ignored (and left alone).

Which cluster ``init()`` joins (:func:`resolve_address`; Java and C++ use the
same order, ``ClusterAddress`` and ``cluster_address.cc``):

* ``"host:port"``: that one;
* ``"local"``: a new embedded head, always;
* ``"auto"``: ``$POLYRAY_ADDRESS`` if set, else the recorded cluster, else a
  ConnectionError naming both;
* nothing: ``$POLYRAY_ADDRESS`` if set (Ray's rule), else a new embedded head
  (the recorded cluster is *not* joined without ``"auto"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: The environment variable naming the GCS a driver joins.
ENV_ADDRESS = "POLYRAY_ADDRESS"
#: The record's file name in the temp root.
RECORD_NAME = "current_cluster"


def temp_root() -> str:
    """``$TMPDIR/polyray`` (``/tmp/polyray`` without TMPDIR): polyray start's state and the record."""
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", "polyray")


def record_path(root: str | None = None) -> str:
    """Where the record of this machine's cluster lives."""
    return os.path.join(root or temp_root(), RECORD_NAME)


@dataclass(frozen=True)
class ClusterRecord:
    """The running cluster a head recorded."""

    gcs_address: str
    pid: int
    dashboard_url: str = ""
    session_dir: str = ""

    def to_text(self) -> str:
        return (f"gcs_address={self.gcs_address}\ndashboard_url={self.dashboard_url}\n"
                f"session_dir={self.session_dir}\npid={self.pid}\n")

    @staticmethod
    def parse(text: str) -> ClusterRecord | None:
        """The record in ``text``; None when it is not one (no address, no pid)."""
        values: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        address = values.get("gcs_address", "")
        try:
            pid = int(values.get("pid", ""))
        except ValueError:
            return None
        if ":" not in address or pid <= 0:
            return None
        return ClusterRecord(address, pid, values.get("dashboard_url", ""), values.get("session_dir", ""))


def is_node_process(pid: int) -> bool:
    """True when ``pid`` runs and is a polyray node daemon (not a dead one's reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        return False
    return b"polyray.node" in cmdline


def write_record(record: ClusterRecord, root: str | None = None) -> str:
    """Write the record atomically (a 0600 temporary file renamed over it); its path."""
    path = record_path(root)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, record.to_text().encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_record(root: str | None = None, *,
                alive: Callable[[int], bool] = is_node_process) -> ClusterRecord | None:
    """The recorded cluster whose owner still runs; None when there is none.
    A malformed record or one whose owner is gone is removed."""
    path = record_path(root)
    try:
        with open(path, errors="replace") as f:
            if not _trusted(os.fstat(f.fileno())):
                return None  # another user's (or a writable) file: never followed, never removed
            text = f.read()
    except OSError:
        return None
    record = ClusterRecord.parse(text)
    if record is not None and alive(record.pid):
        return record
    _remove_if_unchanged(path, text)
    return None


def _trusted(st: os.stat_result) -> bool:
    """A record a driver may follow: owned by this user, writable by no one else (a record
    planted by another user of the machine would send this driver's token to their GCS)."""
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def remove_record(pid: int, root: str | None = None) -> bool:
    """Remove the record if process ``pid`` owns it (a later head's record stays); True if removed."""
    path = record_path(root)
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    record = ClusterRecord.parse(text)
    if record is None or record.pid != pid:
        return False
    return _remove_if_unchanged(path, text)


def _remove_if_unchanged(path: str, text: str) -> bool:
    # Narrows (does not close) the race with a head writing a new record meanwhile.
    try:
        with open(path, errors="replace") as f:
            if f.read() != text:
                return False
        os.unlink(path)
        return True
    except OSError:
        return False


def resolve_address(address: str | None, *, env: Mapping[str, str] | None = None,
                    read: Callable[[], ClusterRecord | None] | None = None,
                    root: str | None = None) -> str | None:
    """The GCS address ``init(address)`` joins, or None to start an embedded head.

    Raises ConnectionError for ``"auto"`` when neither ``$POLYRAY_ADDRESS`` nor
    a running recorded cluster exists."""
    environ = os.environ if env is None else env
    if address == "local":
        return None
    if address is not None and address != "auto":
        return address
    from_env = (environ.get(ENV_ADDRESS) or "").strip()
    if from_env:
        return from_env
    if address is None:
        return None
    record = (read or (lambda: read_record(root)))()
    if record is not None:
        return record.gcs_address
    raise ConnectionError(
        f"init(address='auto') found no running cluster: ${ENV_ADDRESS} is not set and no live cluster is "
        f"recorded in {record_path(root)} (start one with `polyray start --head`, or pass address='host:port')")
