"""How a worker process of each language is started.

A :class:`WorkerLauncher` turns a :class:`LaunchContext` (who the worker is,
where its raylet, GCS and store are, the job's code search path) into a
command line and an environment. The pool looks launchers up in a
:class:`LauncherRegistry` keyed by Language (Python, Java and C++ ship by
default); tests substitute their own.
"""

from __future__ import annotations

import abc
import os
import sys
from dataclasses import dataclass, field

from polyray.protocol import auth, common_pb2, lease_proof
from polyray.runtime_env.agent import PreparedEnv
from polyray.runtime_env.merge import ENV_VAR as RUNTIME_ENV_VAR


class LaunchError(Exception):
    """The launcher cannot build a command (e.g. no ``java`` on PATH)."""


@dataclass(frozen=True)
class LaunchContext:
    """What a launcher knows about the worker it starts."""

    language: int
    worker_id: bytes
    job_id: bytes
    startup_token: str
    node_id: bytes
    raylet_address: str
    gcs_address: str
    store_name: str
    session_dir: str
    code_search_path: tuple[str, ...] = ()
    #: The worker's lease key (protocol/lease_proof.py); empty: none given.
    lease_key: bytes = b""
    #: Its runtime env as prepared on this node (None: none).
    runtime_env: PreparedEnv | None = None
    #: The GPU indices of the leases it serves: CUDA_VISIBLE_DEVICES and
    #: POLYRAY_GPU_IDS are set to them; a worker with none has neither.
    gpu_ids: tuple[str, ...] = ()

    def full_code_search_path(self) -> tuple[str, ...]:
        """The job's code search path plus, for Java and C++ workers, what the
        runtime env adds (working_dir's folder and jars, java_jars; its and
        cpp_libs' shared libraries)."""
        extra: tuple[str, ...] = ()
        if self.runtime_env is not None:
            if self.language == common_pb2.JAVA:
                extra = self.runtime_env.java_path
            elif self.language == common_pb2.CPP:
                extra = self.runtime_env.cpp_path
        return tuple(self.code_search_path) + tuple(p for p in extra if p not in self.code_search_path)

    def base_env(self) -> dict[str, str]:
        """The raylet's environment with the runtime env's variables over it
        (and $POLYRAY_RUNTIME_ENV_JSON set to it, or removed when there is none)."""
        env = dict(os.environ)
        env.pop(RUNTIME_ENV_VAR, None)
        if self.runtime_env is not None:
            env.update(self.runtime_env.env_vars)
            env[RUNTIME_ENV_VAR] = self.runtime_env.json
        env.pop("CUDA_VISIBLE_DEVICES", None)
        env.pop("POLYRAY_GPU_IDS", None)
        if self.gpu_ids:
            env["CUDA_VISIBLE_DEVICES"] = env["POLYRAY_GPU_IDS"] = ",".join(self.gpu_ids)
        return env

    @property
    def cwd(self) -> str | None:
        """The worker's working directory: the runtime env's working_dir, if any."""
        return self.runtime_env.cwd if self.runtime_env is not None else None

    def polyray_env(self) -> dict[str, str]:
        """The POLYRAY_* variables every worker, of any language, reads."""
        return {
            "POLYRAY_RAYLET_ADDRESS": self.raylet_address,
            "POLYRAY_GCS_ADDRESS": self.gcs_address,
            "POLYRAY_NODE_ID": self.node_id.hex(),
            "POLYRAY_WORKER_ID": self.worker_id.hex(),
            "POLYRAY_STARTUP_TOKEN": self.startup_token,
            "POLYRAY_JOB_ID": self.job_id.hex(),
            "POLYRAY_STORE_NAME": self.store_name,
            "POLYRAY_CODE_SEARCH_PATH": ":".join(self.full_code_search_path()),
            "POLYRAY_SESSION_DIR": self.session_dir,
            # The address the worker's own server advertises: the node's.
            "POLYRAY_NODE_IP": self.raylet_address.rpartition(":")[0],
            # The cluster token (or POLYRAY_AUTH_MODE=disabled): every worker
            # of every language authenticates with the raylet's own.
            **auth.child_env(),
            # The key the raylet signs this worker's leases with: the worker
            # runs normal tasks only from a holder of its current lease.
            lease_proof.KEY_ENV: self.lease_key.hex(),
        }


@dataclass(frozen=True)
class LaunchCommand:
    """A command line, its full environment and working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None


class WorkerLauncher(abc.ABC):
    """Builds the command that starts one worker of a language."""

    #: Overrides the node's start timeout for this language when set.
    start_timeout_s: float | None = None

    @abc.abstractmethod
    def build(self, ctx: LaunchContext) -> LaunchCommand:
        """Return the command for ``ctx``; raise LaunchError to explain a failure."""


def _polyray_root() -> str:
    # The folder that holds the polyray package (this file is
    # <root>/polyray/raylet/launchers.py), so `-m polyray.worker` works from a
    # source checkout that is not pip-installed.
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def python_path(ctx: LaunchContext, base_env: dict[str, str]) -> str:
    """PYTHONPATH for a Python worker: the job's code search path (the
    driver's sys.path additions travel there), then polyray's own root, then
    whatever PYTHONPATH the raylet had; a runtime env's working_dir and
    py_modules come first."""
    parts = list(ctx.runtime_env.python_path) if ctx.runtime_env is not None else []
    parts += [p for p in ctx.code_search_path if p and p not in parts]
    root = _polyray_root()
    if root not in parts:
        parts.append(root)
    inherited = base_env.get("PYTHONPATH", "")
    parts.extend(p for p in inherited.split(os.pathsep) if p and p not in parts)
    return os.pathsep.join(parts)


@dataclass
class PythonWorkerLauncher(WorkerLauncher):
    """``python -m polyray.worker`` with the raylet's interpreter."""

    python: str = field(default_factory=lambda: sys.executable)
    module: str = "polyray.worker"

    def build(self, ctx: LaunchContext) -> LaunchCommand:
        """Command and environment of a Python worker."""
        python = (ctx.runtime_env.python if ctx.runtime_env is not None else None) or self.python
        if not python or not os.path.exists(python):
            raise LaunchError(f"no Python interpreter at {python!r}")
        env = ctx.base_env()
        env.update(ctx.polyray_env())
        env["PYTHONPATH"] = python_path(ctx, env)
        if ctx.runtime_env is not None and ctx.runtime_env.python_path:
            # Kept ahead of the driver's sys.path (core/function_manager.py).
            env["POLYRAY_RUNTIME_ENV_PYTHONPATH"] = os.pathsep.join(ctx.runtime_env.python_path)
        else:
            env.pop("POLYRAY_RUNTIME_ENV_PYTHONPATH", None)
        # print() in tasks must reach the driver promptly, not at exit.
        env["PYTHONUNBUFFERED"] = "1"
        return LaunchCommand(argv=[python, "-m", self.module], env=env, cwd=ctx.cwd)


def java_cds_archive() -> str:
    """Where ``make setup`` puts the Java workers' AppCDS archive (build/java-cds/worker.jsa)."""
    from polyray import sdk

    return os.path.join(sdk.repo_root(), "build", "java-cds", "worker.jsa")


def java_worker_start_flags() -> list[str]:
    """JVM flags that shorten a Java worker's start (java/README.md, "Warm starts").

    Serial GC (no GC threads to start), class data sharing, and the AppCDS
    archive of the SDK's classes when ``make setup`` built one (a missing or
    stale archive is ignored: -Xshare:auto, its warnings off).
    ``$POLYRAY_JAVA_WORKER_OPTS`` (whitespace-separated) replaces them, for
    benchmarks/java_cold_start.py and for users who know better.
    """
    override = os.environ.get("POLYRAY_JAVA_WORKER_OPTS")
    if override is not None:
        return override.split()
    flags = ["-XX:+UseSerialGC", "-Xshare:auto"]
    archive = java_cds_archive()
    if os.path.isfile(archive):
        flags += [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    return flags


@dataclass
class JavaWorkerLauncher(WorkerLauncher):
    """``java -cp <SDK>:<code search path> io.polyray.runtime.WorkerMain``.

    One JVM per worker, reused across tasks of its job (and one per actor).
    """

    java: str | None = None
    main_class: str = "io.polyray.runtime.WorkerMain"
    start_timeout_s: float | None = 60.0

    def build(self, ctx: LaunchContext) -> LaunchCommand:
        """Command and environment of a Java worker; LaunchError says what is missing."""
        import shutil

        from polyray import sdk

        java = self.java or (os.path.join(os.environ["JAVA_HOME"], "bin", "java")
                             if os.environ.get("JAVA_HOME") else shutil.which("java"))
        if not java or not os.path.exists(java):
            raise LaunchError("cannot start a Java worker: no `java` on PATH (install a JDK 17+, "
                              "or set JAVA_HOME)")
        classpath = sdk.java_classpath()
        if not classpath:
            raise LaunchError("cannot start a Java worker: the polyray Java SDK is not built "
                              f"(no jars under {os.path.join(sdk.repo_root(), 'java')}); run `make setup`")
        store_lib = sdk.store_library()
        if store_lib is None:
            raise LaunchError("cannot start a Java worker: libpolyray_store.so is not built; run `make setup`")
        cp = ":".join(classpath + sdk.user_classpath(ctx.full_code_search_path()))
        env = ctx.base_env()
        env.update(ctx.polyray_env())
        # Arrow's memory (ARROW values as VectorSchemaRoot) reads java.nio internals.
        argv = [java, "--add-opens=java.base/java.nio=ALL-UNNAMED", "-cp", cp,
                f"-Dpolyray.store.library={store_lib}", *java_worker_start_flags(), self.main_class]
        return LaunchCommand(argv=argv, env=env, cwd=ctx.cwd)


@dataclass
class CppWorkerLauncher(WorkerLauncher):
    """``polyray_cpp_worker`` (the C++ SDK's worker executable).

    The worker reads everything from the POLYRAY_* environment, dlopens every
    shared library on POLYRAY_CODE_SEARCH_PATH (the job's code search path)
    and runs the functions registered there with ``POLYRAY_REMOTE``. Like
    Java workers, C++ workers are pooled per (language, job, code search
    path), so one process serves many tasks of its job.
    """

    #: The executable; None means :func:`polyray.sdk.cpp_worker` (the
    #: POLYRAY_CPP_WORKER override, else the checkout's build/cpp/bin).
    executable: str | None = None

    def build(self, ctx: LaunchContext) -> LaunchCommand:
        """Command and environment of a C++ worker; LaunchError says what is missing."""
        from polyray import sdk

        if self.executable is not None:
            path = self.executable
            if not os.path.isfile(path) or not os.access(path, os.X_OK):
                raise LaunchError(f"cannot start a C++ worker: no executable at {path}")
        else:
            try:
                path = sdk.cpp_worker()
            except sdk.CppSdkMissing as e:
                raise LaunchError(f"cannot start a C++ worker: {e}") from None
        env = ctx.base_env()
        env.update(ctx.polyray_env())
        return LaunchCommand(argv=[path], env=env, cwd=ctx.cwd)


class LauncherRegistry:
    """Launchers by Language."""

    def __init__(self, launchers: dict[int, WorkerLauncher] | None = None) -> None:
        self._launchers: dict[int, WorkerLauncher] = dict(launchers or {})

    @classmethod
    def default(cls) -> LauncherRegistry:
        """The launchers this build ships: Python, Java and C++."""
        return cls({common_pb2.PYTHON: PythonWorkerLauncher(), common_pb2.JAVA: JavaWorkerLauncher(),
                    common_pb2.CPP: CppWorkerLauncher()})

    def register(self, language: int, launcher: WorkerLauncher) -> None:
        """Use ``launcher`` for ``language`` from now on."""
        self._launchers[language] = launcher

    def get(self, language: int) -> WorkerLauncher:
        """The launcher of ``language``; LaunchError when there is none."""
        try:
            return self._launchers[language]
        except KeyError:
            raise LaunchError(
                f"this node has no worker launcher for {language_name(language)} workers"
            ) from None


def language_name(language: int) -> str:
    """"PYTHON", "JAVA", "CPP" (or the number for an unknown value)."""
    try:
        return common_pb2.Language.Name(language)
    except ValueError:
        return f"language {language}"
