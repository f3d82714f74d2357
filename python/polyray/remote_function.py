"""Remote functions: ``@polyray.remote`` on a function, then ``f.remote(...)``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from polyray import options as opts
from polyray.core.object_ref import ObjectRef
from polyray.protocol import common_pb2 as pb
from polyray.util.scheduling_strategies import check_fits_bundle, strategy_for


def _require_core():
    # Initializes polyray on first use when it is not (Ray's auto-init; object_ref.require_core).
    from polyray.core.object_ref import require_core
    return require_core()


def _pickle_export(core, target: Any, cache: dict) -> bytes:
    """Export a function or class to the GCS once per job; returns its hash."""
    # A new cluster numbers jobs from 1 again: key by cluster and job.
    key = (core.gcs_address, core.job_id)
    digest = cache.get(key)
    if digest is None:
        import cloudpickle
        pickled = cloudpickle.dumps(target)
        digest = core.export_function(pickled, getattr(target, "__qualname__", "?"))
        cache[key] = digest
    return digest


def signature_of(target: Callable, drop_first: bool = False) -> inspect.Signature | None:
    """The signature ``.remote()`` checks arguments against (None: not introspectable, no check).

    ``drop_first`` removes ``self`` of a method looked up on its class.
    """
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    if drop_first:
        params = list(sig.parameters.values())
        if params and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            sig = sig.replace(parameters=params[1:])
    return sig


def check_args(sig: inspect.Signature | None, args: tuple, kwargs: dict, what: str) -> None:
    """Raise TypeError at ``.remote()`` when the arguments do not fit the callee (as Ray does)."""
    if sig is None:
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{what}: {e}") from None


class RemoteFunction:
    """A function that runs as a task on a worker; call it with ``.remote()``."""

    def __init__(self, function: Callable, options: dict[str, Any]) -> None:
        if inspect.iscoroutinefunction(function):
            raise ValueError("'async def' should not be used for remote tasks: a task runs a plain function; "
                             "wrap the coroutine with asyncio.run(...), or use an async actor")
        self._function = function
        self._options = opts.validate(options, opts.TASK_OPTIONS, f"remote function {function.__qualname__}")
        self._exported: dict[tuple, bytes] = {}
        self._signature = signature_of(function)
        # As Ray: a generator function's tasks stream their items by default.
        self._is_generator = inspect.isgeneratorfunction(function)
        functools.update_wrapper(self, function)

    @property
    def _polyray_target(self) -> Callable:
        return self._function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self._function.__name__
        raise TypeError(f"remote function '{name}' cannot be called directly; "
                        f"use '{name}.remote(...)' to run it as a task")

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the task; returns an ObjectRef (a list of them for num_returns > 1)."""
        return self._submit(args, kwargs, self._options)

    def _remote(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Ray's internal but used spelling: ``f._remote(args=[...], kwargs={...}, **options)``."""
        merged = self._options
        if options:
            merged = dict(merged)
            merged.update(opts.validate(options, opts.TASK_OPTIONS, f"remote function {self._function.__qualname__}"))
        return self._submit(tuple(args or ()), dict(kwargs or {}), merged)

    def options(self, **options: Any) -> _BoundFunction:
        """The same function with some options overridden for the next calls."""
        merged = dict(self._options)
        merged.update(opts.validate(options, opts.TASK_OPTIONS, f"remote function {self._function.__qualname__}"))
        return _BoundFunction(self, merged)

    def _submit(self, args: tuple, kwargs: dict, options: dict[str, Any]) -> Any:
        fn = self._function
        if self._is_generator and "num_returns" not in options:
            options = {**options, "num_returns": "streaming"}
        check_args(self._signature, args, kwargs, f"remote function {fn.__qualname__}")
        core = _require_core()
        digest = _pickle_export(core, fn, self._exported)
        desc = pb.FunctionDescriptor(python=pb.PythonFunctionDescriptor(
            module=fn.__module__ or "", qualname=fn.__qualname__, function_hash=digest))
        spec = core.new_task_spec(pb.NORMAL_TASK, pb.PYTHON, desc, options.get("name") or fn.__qualname__)
        return submit_normal_task(core, spec, args, kwargs, options, pb.PYTHON)


def submit_normal_task(core, spec: pb.TaskSpec, args: tuple, kwargs: dict, options: dict[str, Any],
                       language: int) -> Any:
    """Apply the task options to spec, encode the arguments for `language`, submit.

    Shared by Python remote functions and the cross-language function handles.
    """
    num_returns = options.get("num_returns", 1)
    generator = opts.GENERATOR_RETURNS.get(num_returns, 0) if isinstance(num_returns, str) else 0
    if generator:
        if language != pb.PYTHON and (language not in (pb.JAVA, pb.CPP) or num_returns != "streaming"):
            raise ValueError(f"num_returns={num_returns!r} is supported for Python functions only, and "
                             f"'streaming' for Java and C++ ones (task {spec.name})")
        num_returns = 1  # the end of the stream; the items come as they are yielded
        spec.generator = generator
    spec.num_returns = num_returns
    resources = opts.resources_of(options, 1)
    check_fits_bundle(options.get("scheduling_strategy"), resources, f"task {spec.name}")
    spec.resources.update(resources)
    max_calls = options.get("max_calls", 0)
    if max_calls and language != pb.PYTHON:
        raise ValueError(f"option 'max_calls' is supported for Python functions only (task {spec.name})")
    spec.max_calls = max_calls
    spec.max_retries = options.get("max_retries", 3)  # generators too: a retry's items are deduplicated
    spec.retry_exceptions = bool(options.get("retry_exceptions", False))
    spec.scheduling.CopyFrom(strategy_for(options.get("scheduling_strategy")))
    opts.apply_labels(options, spec.scheduling)
    if options.get("runtime_env"):
        from polyray.runtime_env.resolve import task_runtime_env
        spec.runtime_env = task_runtime_env(core.ctx.runtime_env, options["runtime_env"], core.gcs_address)
    held: list = []
    arg_ids = core.build_args(spec, args, kwargs, language, held)
    if generator:
        return submit_generator(core, spec, generator, lambda: core.submit_task(spec, arg_ids, held))
    return _shape(core.submit_task(spec, arg_ids, held), num_returns)


def submit_generator(core, spec: pb.TaskSpec, generator: int, submit: Callable[[], list[ObjectRef]]) -> Any:
    """Submit a generator task: "streaming" gives an ObjectRefGenerator of the items as they come,
    "dynamic" the ref of an ObjectRefGenerator of them all (core/generators.py)."""
    from polyray.core.generators import DYNAMIC, ObjectRefGenerator
    stream = core.generators.open(spec.task_id, dynamic=generator == DYNAMIC)
    try:
        end = submit()[0]
    except BaseException:
        core.generators.drop(stream)
        raise
    if generator == DYNAMIC:
        return end
    return ObjectRefGenerator(core.generators, stream, end, core.memory_store, core.get)


class _BoundFunction:
    """A RemoteFunction with options applied (what ``.options()`` returns)."""

    def __init__(self, fn: RemoteFunction, options: dict[str, Any]) -> None:
        self._fn = fn
        self._options = options

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the task with these options."""
        return self._fn._submit(args, kwargs, self._options)


def _shape(refs: list[ObjectRef], num_returns: int) -> Any:
    if num_returns == 1:
        return refs[0]
    if num_returns == 0:
        return None
    return refs
