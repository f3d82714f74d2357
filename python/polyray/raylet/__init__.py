"""The raylet: one per node; resources, worker leases, the worker pool and the node's shared store.

Never imports polyray.api or polyray.core (docs/architecture.md): it speaks the protocol only.
"""

from polyray.raylet.config import NodeConfig
from polyray.raylet.launchers import (
    CppWorkerLauncher,
    JavaWorkerLauncher,
    LaunchCommand,
    LaunchContext,
    LauncherRegistry,
    LaunchError,
    PythonWorkerLauncher,
    WorkerLauncher,
)
from polyray.raylet.server import RayletServer

__all__ = [
    "NodeConfig",
    "RayletServer",
    "CppWorkerLauncher",
    "JavaWorkerLauncher",
    "LaunchCommand",
    "LaunchContext",
    "LaunchError",
    "LauncherRegistry",
    "PythonWorkerLauncher",
    "WorkerLauncher",
]
