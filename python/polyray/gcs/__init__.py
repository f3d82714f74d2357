"""The GCS: cluster-wide tables (nodes, jobs, actors, KV, functions, placement
groups) and the log channel, served over gRPC. See README.md in this folder."""

from .config import GcsConfig
from .server import GcsServer
from .storage import InMemoryStorage, Storage

__all__ = ["GcsConfig", "GcsServer", "InMemoryStorage", "Storage"]
