"""The node's side: turning a TaskSpec's runtime env into what a worker starts with.

The raylet's worker pool calls :meth:`RuntimeEnvAgent.prepare` before it
starts a worker whose lease carries a runtime env. Each package URI is
fetched from the GCS and unpacked once into ``<cache>/pkg_<sha256>/``
(content-addressed: reuse is free; concurrent starts share one fetch; the
bytes are checked against the hash the URI names), each distinct pip
requirement list gets one venv (:mod:`.pip_env`), and the result is a
:class:`PreparedEnv`: the cwd, variables and search paths the launchers apply.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import io
import os
import shutil
import sys
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from polyray.runtime_env import pip_env
from polyray.runtime_env.merge import canonical_json, from_json
from polyray.runtime_env.packaging import is_uri, uri_digest
from polyray.runtime_env.validation import validate

#: Fetches a package's bytes by URI (None: the GCS has no such package).
Fetch = Callable[[str], Awaitable["bytes | None"]]
#: Bound on one pip venv creation, unless this variable says otherwise.
PIP_TIMEOUT_ENV = "POLYRAY_RUNTIME_ENV_PIP_TIMEOUT_S"
DEFAULT_PIP_TIMEOUT_S = 300.0


class RuntimeEnvSetupError(RuntimeError):
    """The runtime env cannot be prepared on this node; the message says why."""


@dataclass(frozen=True)
class PreparedEnv:
    """What a worker of a runtime env starts with."""

    #: The canonical JSON the worker is told (it submits nested tasks with it).
    json: str
    cwd: str | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    #: Prepended to PYTHONPATH: working_dir, then py_modules.
    python_path: tuple[str, ...] = ()
    #: Added to a Java worker's code search path: working_dir, its *.jar, java_jars (and their *.jar).
    java_path: tuple[str, ...] = ()
    #: Added to a C++ worker's code search path: working_dir's *.so, cpp_libs' *.so.
    cpp_path: tuple[str, ...] = ()
    #: The venv's interpreter for Python workers (pip), else None.
    python: str | None = None


def _files(folder: str, pattern: str) -> list[str]:
    return sorted(glob.glob(os.path.join(folder, pattern)))


def _unique(paths: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(paths))


def _is_so(path: str) -> bool:
    name = os.path.basename(path)
    return name.endswith(".so") or ".so." in name


class RuntimeEnvAgent:
    """Fetches, unpacks and caches packages and venvs under ``cache_dir``."""

    def __init__(self, cache_dir: str, fetch: Fetch, *, python: str = sys.executable,
                 pip_timeout_s: float | None = None) -> None:
        self.cache_dir = cache_dir
        self._fetch = fetch
        self._python = python
        if pip_timeout_s is None:
            pip_timeout_s = float(os.environ.get(PIP_TIMEOUT_ENV, "") or DEFAULT_PIP_TIMEOUT_S)
        self.pip_timeout_s = pip_timeout_s
        # One task per package / venv being made: concurrent starts await the same one.
        self._making: dict[str, asyncio.Task[str]] = {}
        #: Packages fetched from the GCS (not found in the cache) since start, for tests and stats.
        self.fetches = 0
        self.venvs_created = 0

    async def _once(self, key: str, make: Callable[[], Awaitable[str]]) -> str:
        task = self._making.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.ensure_future(make())
            self._making[key] = task
        return await asyncio.shield(task)

    async def package_dir(self, uri: str) -> str:
        """The folder ``uri`` is unpacked in, fetching and unpacking it the first time."""
        try:
            digest = uri_digest(uri)
        except ValueError as exc:
            raise RuntimeEnvSetupError(str(exc)) from None
        target = os.path.join(self.cache_dir, f"pkg_{digest}")

        async def make() -> str:
            if os.path.isdir(target):
                return target
            data = await self._fetch(uri)
            if data is None:
                raise RuntimeEnvSetupError(f"package {uri} is not in the GCS (was it uploaded to this cluster?)")
            if hashlib.sha256(data).hexdigest() != digest:
                raise RuntimeEnvSetupError(f"package {uri} does not match its hash; refusing to unpack it")
            self.fetches += 1
            await asyncio.get_running_loop().run_in_executor(None, _unpack, data, target)
            return target

        return await self._once(uri, make)

    async def _venv(self, requirements: list[str]) -> str:
        key = pip_env.requirements_key(requirements)
        venv_dir = os.path.join(self.cache_dir, f"pip_{key}")

        async def make() -> str:
            ready = os.path.exists(os.path.join(venv_dir, pip_env.READY_MARKER))
            try:
                vpy = await pip_env.create_venv(venv_dir, requirements, timeout_s=self.pip_timeout_s,
                                                python=self._python)
            except pip_env.PipSetupError as exc:
                raise RuntimeEnvSetupError(f"runtime_env pip {requirements}: {exc}") from None
            if not ready:
                self.venvs_created += 1
            return vpy

        return await self._once("pip:" + key, make)

    async def _local(self, path: str) -> str:
        if is_uri(path):
            return await self.package_dir(path)
        if not os.path.exists(path):
            raise RuntimeEnvSetupError(f"runtime_env path {path} does not exist on this node")
        return path

    async def prepare(self, runtime_env_json: str) -> PreparedEnv:
        """The PreparedEnv of a TaskSpec.runtime_env; RuntimeEnvSetupError says what failed."""
        try:
            env: dict[str, Any] = validate(from_json(runtime_env_json), local=False)
        except ValueError as exc:
            raise RuntimeEnvSetupError(f"invalid runtime_env: {exc}") from None
        os.makedirs(self.cache_dir, exist_ok=True)
        cwd = None
        python_path: list[str] = []
        java_path: list[str] = []
        cpp_path: list[str] = []
        if "working_dir" in env:
            wd = await self._local(env["working_dir"])
            if os.path.isfile(wd):  # a node-local .zip
                wd = await self._unpack_local(wd)
            cwd = wd
            python_path.append(wd)
            java_path.append(wd)
            java_path.extend(_files(wd, "*.jar"))
            cpp_path.extend(p for p in _files(wd, "*.so*") if _is_so(p))
        for entry in env.get("py_modules", []):
            d = await self._local(entry)
            # A package's folder; a node-local folder or .zip (zipimport) as it is; a .py's folder.
            python_path.append(d if is_uri(entry) or os.path.isdir(d) or d.endswith(".zip")
                               else os.path.dirname(d))
        for entry in env.get("java_jars", []):
            d = await self._local(entry)
            if os.path.isdir(d):
                java_path.append(d)
                java_path.extend(_files(d, "*.jar"))
            else:
                java_path.append(d)
        for entry in env.get("cpp_libs", []):
            d = await self._local(entry)
            if os.path.isdir(d):
                cpp_path.extend(p for p in _files(d, "*.so*") if _is_so(p))
            else:
                cpp_path.append(d)
        python = None
        if env.get("pip"):
            python = await self._venv(list(env["pip"]))
        return PreparedEnv(json=canonical_json(env), cwd=cwd, env_vars=dict(env.get("env_vars", {})),
                           python_path=_unique(python_path), java_path=_unique(java_path),
                           cpp_path=_unique(cpp_path), python=python)

    async def _unpack_local(self, zip_path: str) -> str:
        with open(zip_path, "rb") as f:
            data = f.read()
        target = os.path.join(self.cache_dir, f"pkg_{hashlib.sha256(data).hexdigest()}")

        async def make() -> str:
            if not os.path.isdir(target):
                await asyncio.get_running_loop().run_in_executor(None, _unpack, data, target)
            return target

        return await self._once(target, make)


def _unpack(data: bytes, target: str) -> None:
    """Unpack a zip into ``target`` atomically (a temporary folder renamed into place)."""
    if os.path.isdir(target):
        return
    tmp = f"{target}.tmp{os.getpid()}.{id(data)}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                # extract() drops absolute paths and '..' parts, so nothing lands outside tmp.
                out = zf.extract(info, tmp)
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    os.chmod(out, mode)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeEnvSetupError(f"a runtime_env package is not a zip: {exc}") from None
    try:
        os.rename(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process unpacked it first
        if not os.path.isdir(target):
            raise
