"""Actors: ``@polyray.remote`` on a class, ``Cls.remote(...)`` for a handle, ``handle.m.remote(...)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from polyray import options as opts
from polyray.core import actor_handles
from polyray.protocol import common_pb2 as pb
from polyray.remote_function import _pickle_export, _require_core, _shape, check_args, signature_of, submit_generator
from polyray.util.scheduling_strategies import check_fits_bundle, strategy_for

#: Built-in methods every Python actor answers (and Ray's ``__ray_*__`` spellings):
#: ``__polyray_ready__`` (True once the actor exists), ``__polyray_call__``
#: (``fn(instance, *args, **kwargs)`` run inside the actor) and
#: ``__polyray_terminate__`` (a graceful exit after the calls queued before it).
BUILTIN_METHODS = frozenset({
    "__polyray_ready__", "__polyray_call__", "__polyray_terminate__",
    "__ray_ready__", "__ray_call__", "__ray_terminate__",
})
#: Actor languages whose workers honour concurrency_groups / concurrency_group (C++: TaskReceiver, Java: TaskExecutor).
GROUP_LANGUAGES = frozenset({pb.PYTHON, pb.CPP, pb.JAVA})
#: Options ``@polyray.method(...)`` accepts.
METHOD_DECORATOR_OPTIONS = {"num_returns", "max_task_retries", "concurrency_group"}
_F = TypeVar("_F", bound=Callable[..., Any])


def call_target(language: int, fn: Any, what: str) -> str:
    """The name a Java or C++ actor's ``__polyray_call__`` sends as its argument 0: the function
    to run with the actor instance. ``fn`` must be a ``java_function`` (Java actor) or
    ``cpp_function`` (C++ actor), which say their name through ``actor_call_target()`` (duck-typed:
    polyray.xlang imports this module, not the other way round); anything else is a TypeError
    naming ``what``."""
    named = getattr(fn, "actor_call_target", None)
    if callable(named):
        fn_language, name = named()
        if fn_language == language:
            return str(name)
    lang = "Java" if language == pb.JAVA else "C++"
    want = "polyray.java_function(class, method)" if language == pb.JAVA else "polyray.cpp_function(name)"
    got = "nothing" if fn is None else f"{type(fn).__name__} {fn!r}"
    raise TypeError(f"{what} on a {lang} actor takes the function to run with the actor first, "
                    f"as {want}; got {got}")


def method(*args: Any, **options: Any) -> Callable[[_F], _F]:
    """Set per-method options on an actor class's method, as Ray's ``@ray.method``.

    ``@polyray.method(num_returns=2)`` makes every ``handle.m.remote()`` return
    two refs (a call's ``.options(num_returns=...)`` still overrides it);
    ``max_task_retries`` likewise; ``concurrency_group="io"`` runs the method's
    calls in that group of the class's ``concurrency_groups`` (a call's
    ``.options(concurrency_group=...)`` overrides it). Applied without keyword
    options it is a TypeError, as in Ray.
    """
    if args or not options:
        raise TypeError("@polyray.method must be given keyword options, e.g. @polyray.method(num_returns=2)")
    checked = opts.validate(options, METHOD_DECORATOR_OPTIONS, "@polyray.method")

    def decorate(fn: _F) -> _F:
        if not callable(fn):
            raise TypeError(f"@polyray.method applies to methods, got {type(fn).__name__}")
        fn.__polyray_method_options__ = dict(checked)  # type: ignore[attr-defined]
        return fn
    return decorate


def exit_actor() -> NoReturn:
    """End the current actor from inside one of its methods (or its constructor), as Ray's
    ``ray.actor.exit_actor()``: the method's call and every later call get ActorDiedError,
    the process exits, and the actor is not restarted whatever its ``max_restarts``.

    Raises TypeError outside an actor (a driver or a normal task), as Ray.
    Works by raising SystemExit, so ``finally`` blocks run on the way out.
    """
    from polyray.core.worker_context import current_task
    ctx = current_task.get()
    spec = ctx.spec if ctx is not None else None
    if spec is None or spec.type not in (pb.ACTOR_TASK, pb.ACTOR_CREATION_TASK):
        raise TypeError("exit_actor() can only be called inside an actor's method or constructor")
    raise SystemExit(0)


class ActorClass:
    """A class whose instances live in their own worker process; create one with ``.remote()``."""

    def __init__(self, cls: type, options: dict[str, Any]) -> None:
        self._cls = cls
        self._options = opts.validate(options, opts.ACTOR_OPTIONS, f"actor class {cls.__qualname__}")
        self._exported: dict[tuple, bytes] = {}
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__module__ = cls.__module__
        self.__doc__ = cls.__doc__
        self._init_signature = signature_of(cls)
        self._method_signatures = _method_signatures(cls)
        self._method_options = _method_options(cls)
        # As Ray: generator methods stream their items by default (known where the class is).
        for name, _ in inspect.getmembers(
                cls, predicate=lambda m: inspect.isgeneratorfunction(m) or inspect.isasyncgenfunction(m)):
            if not name.startswith("__"):
                self._method_options.setdefault(name, {}).setdefault("num_returns", "streaming")
        self._is_async = any(inspect.iscoroutinefunction(m) or inspect.isasyncgenfunction(m)
                             for _, m in inspect.getmembers(cls, predicate=inspect.isfunction))

    @property
    def _polyray_target(self) -> type:
        return self._cls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self._cls.__name__
        raise TypeError(f"actor class '{name}' cannot be instantiated directly; "
                        f"use '{name}.remote(...)' to create an actor")

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        """Create the actor; returns its handle at once (creation continues in the background)."""
        return self._create(args, kwargs, self._options)

    def _remote(self, args: Any = None, kwargs: Any = None, **options: Any) -> ActorHandle:
        """Ray's internal but used spelling: ``Cls._remote(args=[...], kwargs={...}, **options)``."""
        merged = self._options
        if options:
            merged = dict(merged)
            merged.update(opts.validate(options, opts.ACTOR_OPTIONS, f"actor class {self._cls.__qualname__}"))
        return self._create(tuple(args or ()), dict(kwargs or {}), merged)

    def options(self, **options: Any) -> _BoundActorClass:
        """The same class with some options overridden (name, namespace, lifetime, resources, ...)."""
        merged = dict(self._options)
        merged.update(opts.validate(options, opts.ACTOR_OPTIONS, f"actor class {self._cls.__qualname__}"))
        return _BoundActorClass(self, merged)

    def _create(self, args: tuple, kwargs: dict, options: dict[str, Any]) -> ActorHandle:
        cls = self._cls
        check_args(self._init_signature, args, kwargs, f"actor class {cls.__qualname__} constructor")
        core = _require_core()
        digest = _pickle_export(core, cls, self._exported)
        desc = pb.FunctionDescriptor(python=pb.PythonFunctionDescriptor(
            module=cls.__module__ or "", qualname=cls.__qualname__, function_hash=digest))
        spec = core.new_task_spec(pb.ACTOR_CREATION_TASK, pb.PYTHON, desc, f"{cls.__qualname__}.__init__")
        handle = create_actor(core, spec, args, kwargs, options, pb.PYTHON, self._is_async, self._method_signatures,
                              method_options=self._method_options)
        return handle


def _method_options(cls: type) -> dict[str, dict[str, Any]]:
    """Method name -> its ``@polyray.method(...)`` options (methods that have some)."""
    out: dict[str, dict[str, Any]] = {}
    for name in dir(cls):
        static = inspect.getattr_static(cls, name, None)
        fn = getattr(static, "__func__", static)  # static and class methods wrap the function
        found = getattr(fn, "__polyray_method_options__", None)
        if isinstance(found, dict):
            out[name] = found
    return out


def _method_signatures(cls: type) -> dict[str, inspect.Signature | None]:
    """Public method name -> the signature a call is checked against (without self)."""
    out: dict[str, inspect.Signature | None] = {}
    for name, member in inspect.getmembers(cls, predicate=callable):
        if name.startswith("__"):
            continue
        static = inspect.getattr_static(cls, name, None)
        # Methods of the instance: self is bound at the actor; static and class methods bind nothing.
        drop_self = inspect.isfunction(static)
        out[name] = signature_of(member, drop_first=drop_self)
    return out


def create_actor(core, spec: pb.TaskSpec, args: tuple, kwargs: dict, options: dict[str, Any], language: int,
                 is_async: bool, methods: set[str] | dict[str, inspect.Signature | None] | None,
                 method_options: dict[str, dict[str, Any]] | None = None) -> ActorHandle:
    """Fill the actor fields of a creation spec, register it with the GCS, return the handle."""
    spec.actor_id = core.new_actor_id()
    spec.num_returns = 0
    # As in Ray: an actor holds only the resources it asks for (0 CPU by default).
    resources = opts.resources_of(options, 0)
    check_fits_bundle(options.get("scheduling_strategy"), resources, f"actor {spec.name}")
    spec.resources.update(resources)
    spec.max_restarts = options.get("max_restarts", 0)
    spec.max_task_retries = options.get("max_task_retries", 0)
    spec.max_concurrency = options.get("max_concurrency", 0)
    spec.is_async_actor = is_async
    groups = options.get("concurrency_groups") or {}
    if groups and language not in GROUP_LANGUAGES:  # an option the SDK cannot honour: refused, not ignored
        lang = {pb.JAVA: "Java", pb.CPP: "C++"}.get(language, "?")
        raise ValueError(f"option 'concurrency_groups' is not supported for {lang} actors ({spec.name}); "
                         f"use max_concurrency")
    for m, mo in (method_options or {}).items():
        group = mo.get("concurrency_group")
        if group is not None and group not in groups:
            raise ValueError(f"method {m!r} of {spec.name} is in concurrency group {group!r}, which the actor "
                             f"does not declare (concurrency_groups={groups})")
    spec.concurrency_groups.update(groups)
    name = options.get("name") or ""
    namespace = options.get("namespace")
    if namespace is None:
        namespace = core.namespace
    spec.actor_name = name
    spec.actor_namespace = namespace
    lifetime = options.get("lifetime")
    if lifetime is None and name:  # the job's JobConfig(default_actor_lifetime=...): named actors
        lifetime = job_default_lifetime(core)
    spec.detached = lifetime == "detached"
    if spec.detached and not name:
        raise ValueError("a detached actor must have a name (lifetime='detached' needs name=...)")
    spec.scheduling.CopyFrom(strategy_for(options.get("scheduling_strategy")))
    opts.apply_labels(options, spec.scheduling)
    if options.get("runtime_env"):
        from polyray.runtime_env.resolve import task_runtime_env
        spec.runtime_env = task_runtime_env(core.ctx.runtime_env, options["runtime_env"], core.gcs_address)
    held: list = []
    target = language
    core.build_args(spec, args, kwargs, target, held)
    handle_pb = pb.ActorHandle(actor_id=spec.actor_id, language=language, class_descriptor=spec.function,
                               owner=core.address, name=name, namespace=namespace,
                               max_task_retries=spec.max_task_retries, is_async=is_async,
                               detached=spec.detached)
    for m, mo in (method_options or {}).items():
        if mo.get("num_returns", 1) != 1 and isinstance(mo["num_returns"], int):
            handle_pb.method_num_returns[m] = mo["num_returns"]
    handle = ActorHandle(handle_pb, methods)
    handle._method_options = method_options or {}
    handle._concurrency_groups = set(groups)
    handle._creation_args = held  # keep argument objects alive while the actor is created
    core.create_actor(spec)
    return handle


def job_default_lifetime(core) -> str:
    """The job's ``JobConfig.default_actor_lifetime`` ("" when not set): set by init() in a
    driver; a worker reads it from the GCS job table once."""
    known = getattr(core, "_polyray_default_lifetime", None)
    if known is None:
        known = ""
        from polyray.core.rpc import RPC_TIMEOUT
        from polyray.protocol import gcs_pb2 as gcs
        try:
            reply = core.rpc(lambda: core.gcs.GetAllJobs(gcs.GetAllJobsRequest(), timeout=RPC_TIMEOUT),
                             timeout=RPC_TIMEOUT + 5)
            known = next((j.default_actor_lifetime for j in reply.jobs if j.job_id == core.job_id), "")
        except Exception:  # noqa: BLE001 - the GCS is unreachable: creating the actor fails anyway
            return ""
        core._polyray_default_lifetime = known
    return str(known)


class _BoundActorClass:
    """An ActorClass with options applied (what ``.options()`` returns)."""

    def __init__(self, actor_class: ActorClass, options: dict[str, Any]) -> None:
        self._actor_class = actor_class
        self._options = options

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        """Create the actor with these options."""
        return self._actor_class._create(args, kwargs, self._options)


class ActorHandle:
    """A reference to an actor; call methods with ``handle.method.remote(...)``.

    Handles can be passed to tasks and other actors (in any language) and
    stored inside values.
    """

    def __init__(self, handle: pb.ActorHandle,
                 methods: set[str] | dict[str, inspect.Signature | None] | None = None) -> None:
        self._handle = handle
        # Known methods (from the class, in the process that created the actor),
        # with their signatures when Python: calls are checked at .remote().
        # Handles rebuilt elsewhere (passed, get_actor) check at the actor instead.
        self._methods = methods
        self._creation_args: list = []
        # The handle's reference: the actor goes when no handle is left (core/actor_handles.py).
        self._ref = actor_handles.hold(handle)
        # @polyray.method options of the class (in the process that created the actor);
        # num_returns also travels in the handle (method_num_returns).
        self._method_options: dict[str, dict[str, Any]] = {}
        # The actor's concurrency group names, where known (the creating process); else
        # an unknown group is refused by the actor itself.
        self._concurrency_groups: set[str] | None = None

    def _polyray_handle_proto(self) -> pb.ActorHandle:
        return self._handle

    @property
    def _actor_id(self) -> bytes:
        return self._handle.actor_id

    def __getattr__(self, name: str) -> ActorMethod:
        if name in BUILTIN_METHODS:
            return ActorMethod(self, name)  # every language (call: a Java/C++ function on Java/C++ actors)
        if name.startswith("__"):
            raise AttributeError(name)
        if self._methods is not None and name not in self._methods:
            cls = _class_name(self._handle)
            raise AttributeError(f"actor class {cls} has no method {name!r}")
        return ActorMethod(self, name)

    def __reduce__(self):
        return (_rebuild_handle, (self._handle.SerializeToString(),))

    def __repr__(self) -> str:
        return f"ActorHandle({_class_name(self._handle)}, {self._handle.actor_id.hex()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._handle.actor_id == self._handle.actor_id

    def __hash__(self) -> int:
        return hash(self._handle.actor_id)


def _class_name(handle: pb.ActorHandle) -> str:
    d = handle.class_descriptor
    kind = d.WhichOneof("kind")
    if kind == "python":
        return d.python.qualname
    if kind == "java":
        return d.java.class_name
    if kind == "cpp":
        return d.cpp.class_name
    return "?"


def handle_of_creation(spec: pb.TaskSpec, cls: type | None = None) -> ActorHandle:
    """The handle of the actor a creation spec made (``get_runtime_context().current_actor``);
    ``cls``, the actor's class, gives its methods' signatures and ``@polyray.method`` options."""
    handle_pb = pb.ActorHandle(actor_id=spec.actor_id, language=pb.PYTHON, class_descriptor=spec.function,
                               owner=spec.caller, name=spec.actor_name, namespace=spec.actor_namespace,
                               max_task_retries=spec.max_task_retries, is_async=spec.is_async_actor)
    if "detached" in pb.ActorHandle.DESCRIPTOR.fields_by_name:
        # As Ray's current_actor (a weak handle): it does not keep the actor alive.
        handle_pb.detached = True
    options = _method_options(cls) if cls is not None else {}
    for m, mo in options.items():
        if mo.get("num_returns", 1) != 1 and isinstance(mo["num_returns"], int):
            handle_pb.method_num_returns[m] = mo["num_returns"]
    handle = ActorHandle(handle_pb, _method_signatures(cls) if cls is not None else None)
    handle._method_options = options
    handle._concurrency_groups = set(spec.concurrency_groups)
    return handle


def _rebuild_handle(data: bytes) -> ActorHandle:
    return ActorHandle(pb.ActorHandle.FromString(data))


class ActorMethod:
    """One method of an actor; ``.remote(...)`` calls it, ``.options(num_returns=...)`` adjusts it."""

    def __init__(self, handle: ActorHandle, name: str, options: dict[str, Any] | None = None) -> None:
        self._handle = handle
        self._name = name
        self._options = options or {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor method '{self._name}' cannot be called directly; "
                        f"use '.{self._name}.remote(...)'")

    def options(self, **options: Any) -> ActorMethod:
        """The same method with num_returns, name, max_task_retries or concurrency_group overridden."""
        merged = dict(self._options)
        merged.update(opts.validate(options, opts.METHOD_OPTIONS, f"actor method {self._name}"))
        return ActorMethod(self._handle, self._name, merged)

    def _remote(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Ray's internal but used spelling: ``handle.m._remote(args=[...], kwargs={...}, **options)``."""
        method = self.options(**options) if options else self
        return method.remote(*(args or ()), **(kwargs or {}))

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Call the method; returns an ObjectRef (a list for num_returns > 1)."""
        core = _require_core()
        h = self._handle._handle
        cls_name = _class_name(h)
        language = h.language
        d = h.class_descriptor
        if language == pb.PYTHON:
            desc = pb.FunctionDescriptor(python=pb.PythonFunctionDescriptor(
                module=d.python.module, qualname=f"{d.python.qualname}.{self._name}"))
        elif language == pb.JAVA:
            desc = pb.FunctionDescriptor(
                java=pb.JavaFunctionDescriptor(class_name=d.java.class_name, method_name=self._name))
        else:
            # C++ methods are registered as "Class::Method" (POLYRAY_REMOTE(&Counter::Add)).
            method = self._name if "::" in self._name else f"{d.cpp.class_name}::{self._name}"
            desc = pb.FunctionDescriptor(
                cpp=pb.CppFunctionDescriptor(function_name=method, class_name=d.cpp.class_name))
        if language != pb.PYTHON and self._name.endswith("_call__") and self._name in BUILTIN_METHODS:
            args = (call_target(language, args[0] if args else None, f"{cls_name}.{self._name}"), *args[1:])
        if language != pb.PYTHON and kwargs:
            lang = {pb.JAVA: "Java", pb.CPP: "C++"}[language]
            raise TypeError(f"keyword arguments are not supported for {lang} callees ({cls_name}.{self._name} got "
                            f"{', '.join(kwargs)})")
        name = self._options.get("name") or f"{cls_name}.{self._name}"
        spec = core.new_task_spec(pb.ACTOR_TASK, language, desc, name)
        spec.actor_id = h.actor_id
        declared = self._handle._method_options.get(self._name, {})
        num_returns = self._options.get("num_returns", declared.get("num_returns",
                                                                   h.method_num_returns.get(self._name, 1)))
        generator = opts.GENERATOR_RETURNS.get(num_returns, 0) if isinstance(num_returns, str) else 0
        if generator:
            if language != pb.PYTHON and (language not in (pb.JAVA, pb.CPP) or num_returns != "streaming"):
                raise ValueError(f"num_returns={num_returns!r} is supported for Python actors only, and "
                                 f"'streaming' for Java and C++ ones ({cls_name}.{self._name})")
            num_returns = 1
            spec.generator = generator
        if language == pb.CPP and num_returns > 1:  # an option the C++ SDK cannot honour: refused, not ignored
            raise ValueError(f"option 'num_returns'={num_returns} is not supported for C++ actor method "
                             f"{cls_name}.{self._name}: a C++ callee returns one value (return a std::tuple "
                             f"and use num_returns=1)")
        spec.num_returns = num_returns
        group = self._options.get("concurrency_group", declared.get("concurrency_group"))
        if group:
            if language not in GROUP_LANGUAGES:
                lang = {pb.JAVA: "Java", pb.CPP: "C++"}.get(language, "?")
                raise ValueError(f"option 'concurrency_group' is not supported for {lang} actor method "
                                 f"{cls_name}.{self._name}: {lang} actors have no concurrency groups")
            known = self._handle._concurrency_groups
            if known is not None and group not in known:
                raise ValueError(f"concurrency group {group!r} is not declared by actor {cls_name} "
                                 f"(its groups: {sorted(known) or 'none'})")
            spec.concurrency_group = group
        spec.max_retries = 0
        # Retries of a call in flight when the actor dies (-1 forever): this
        # call's option, else the actor's creation option.
        spec.max_task_retries = self._options.get(
            "max_task_retries", declared.get("max_task_retries", h.max_task_retries))
        methods = self._handle._methods
        if isinstance(methods, dict):
            check_args(methods.get(self._name), args, kwargs, f"actor method {cls_name}.{self._name}")
        held: list = []
        arg_ids = core.build_args(spec, args, kwargs, language, held)
        arg_ids += actor_handles.call_arg_ids(self._handle)
        if generator:
            return submit_generator(core, spec, generator, lambda: core.submit_actor_task(spec, arg_ids))
        refs = core.submit_actor_task(spec, arg_ids)
        return _shape(refs, num_returns)
