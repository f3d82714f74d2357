"""Handles for callees in other languages: ``java_function``, ``java_actor_class``,
``cpp_function``, ``cpp_actor_class``.

Arguments to a Java (or C++) callee are encoded in the language-neutral
XLANG format; a value that has no XLANG form (a set, an instance of a Python
class) fails here, in ``.remote()``, with an error that names the argument,
its type and the target language. Keyword arguments are a caller-side error
for Java and C++ callees.
"""

from __future__ import annotations

from typing import Any

from polyray import options as opts
from polyray.actor import ActorHandle, create_actor
from polyray.protocol import common_pb2 as pb
from polyray.remote_function import _require_core, submit_normal_task

_LANG = {pb.JAVA: "Java", pb.CPP: "C++"}


def _no_kwargs(language: int, what: str, kwargs: dict) -> None:
    if kwargs:
        raise TypeError(f"keyword arguments are not supported for {_LANG[language]} callees "
                        f"({what} got {', '.join(sorted(kwargs))}); pass them positionally")


def jvm_arity(descriptor: str) -> int | None:
    """How many parameters a JVM method descriptor (``"(JLjava/lang/String;[I)V"``) takes; None if malformed."""
    if not descriptor.startswith("(") or ")" not in descriptor:
        return None
    body = descriptor[1:descriptor.index(")")]
    n, i = 0, 0
    while i < len(body):
        while i < len(body) and body[i] == "[":
            i += 1
        if i >= len(body):
            return None
        if body[i] == "L":
            end = body.find(";", i)
            if end < 0:
                return None
            i = end + 1
        elif body[i] in "BCDFIJSZ":
            i += 1
        else:
            return None
        n += 1
    return n


class JavaFunction:
    """A static Java method called as a task: ``polyray.java_function("pkg.Cls", "method")``."""

    def __init__(self, class_name: str, method_name: str, signature: str = "",
                 options: dict[str, Any] | None = None) -> None:
        if not class_name or not method_name:
            raise ValueError("java_function needs a class name and a method name")
        self.class_name = class_name
        self.method_name = method_name
        self.signature = signature
        self._options = opts.validate(options or {}, opts.TASK_OPTIONS, f"Java function {self}")

    def __str__(self) -> str:
        return f"{self.class_name}.{self.method_name}"

    def actor_call_target(self) -> tuple[int, str]:
        """What a Java actor's ``__polyray_call__`` sends as its argument 0 for this function:
        ``(pb.JAVA, "pkg.Fns.bump" + optional JVM descriptor)``."""
        return pb.JAVA, f"{self.class_name}.{self.method_name}{self.signature}"

    def options(self, **options: Any) -> JavaFunction:
        """The same function with options overridden (num_returns, resources, max_retries, ...)."""
        merged = dict(self._options)
        merged.update(opts.validate(options, opts.TASK_OPTIONS, f"Java function {self}"))
        return JavaFunction(self.class_name, self.method_name, self.signature, merged)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the call; returns an ObjectRef (a list for num_returns > 1)."""
        _no_kwargs(pb.JAVA, str(self), kwargs)
        # The SDK knows the arity only from an explicit JVM descriptor; without
        # one the Java worker picks the overload by argument count and a
        # mismatch comes back as the task's error (TaskError) from get().
        arity = jvm_arity(self.signature) if self.signature else None
        if arity is not None and arity != len(args):
            raise TypeError(f"Java function {self}{self.signature} takes {arity} argument(s), got {len(args)}")
        core = _require_core()
        desc = pb.FunctionDescriptor(java=pb.JavaFunctionDescriptor(
            class_name=self.class_name, method_name=self.method_name, signature=self.signature))
        o = self._options
        spec = core.new_task_spec(pb.NORMAL_TASK, pb.JAVA, desc, o.get("name") or str(self))
        return submit_normal_task(core, spec, args, {}, o, pb.JAVA)


class JavaActorClass:
    """A Java class whose instances are actors: ``polyray.java_actor_class("pkg.Counter")``."""

    def __init__(self, class_name: str, options: dict[str, Any] | None = None) -> None:
        if not class_name:
            raise ValueError("java_actor_class needs a class name")
        self.class_name = class_name
        self._options = opts.validate(options or {}, opts.ACTOR_OPTIONS, f"Java actor class {class_name}")

    def options(self, **options: Any) -> JavaActorClass:
        """The same class with options overridden (name, namespace, lifetime, resources, ...)."""
        merged = dict(self._options)
        merged.update(opts.validate(options, opts.ACTOR_OPTIONS, f"Java actor class {self.class_name}"))
        return JavaActorClass(self.class_name, merged)

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        """Create the actor (its constructor gets ``args``); returns its handle."""
        _no_kwargs(pb.JAVA, f"{self.class_name} constructor", kwargs)
        core = _require_core()
        desc = pb.FunctionDescriptor(java=pb.JavaFunctionDescriptor(class_name=self.class_name, method_name="<init>"))
        spec = core.new_task_spec(pb.ACTOR_CREATION_TASK, pb.JAVA, desc, f"{self.class_name}.<init>")
        return create_actor(core, spec, args, {}, self._options, pb.JAVA, False, None)


def java_function(class_name: str, function_name: str, signature: str = "") -> JavaFunction:
    """A static Java method to call as a task, by class binary name (``pkg.Outer$Inner``) and method name.

    ``signature`` (a JVM descriptor like ``"(JJ)J"``) picks one of several
    overloads of the same arity.
    """
    return JavaFunction(class_name, function_name, signature)


def java_actor_class(class_name: str) -> JavaActorClass:
    """A Java class to instantiate as an actor; call its methods through the handle."""
    return JavaActorClass(class_name)


class CppFunction:
    """A C++ function registered with ``POLYRAY_REMOTE``, called as a task:
    ``polyray.cpp_function("Plus1").remote(1)``.

    The job's code search path must list the shared library (or its folder)
    that registers the function; the C++ worker dlopens every library there.
    """

    def __init__(self, function_name: str, options: dict[str, Any] | None = None) -> None:
        if not isinstance(function_name, str) or not function_name:
            raise ValueError(f"cpp_function needs the registered function name (a non-empty str), "
                             f"got {function_name!r}")
        self.function_name = function_name
        self._options = opts.validate(options or {}, opts.TASK_OPTIONS, f"C++ function {function_name}")

    def __str__(self) -> str:
        return self.function_name

    def __repr__(self) -> str:
        return f"CppFunction({self.function_name!r})"

    def actor_call_target(self) -> tuple[int, str]:
        """What a C++ actor's ``__polyray_call__`` sends as its argument 0: ``(pb.CPP, registered name)``."""
        return pb.CPP, self.function_name

    def options(self, **options: Any) -> CppFunction:
        """The same function with options overridden (num_returns, resources, max_retries, ...)."""
        merged = dict(self._options)
        merged.update(opts.validate(options, opts.TASK_OPTIONS, f"C++ function {self.function_name}"))
        return CppFunction(self.function_name, merged)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the call; returns an ObjectRef (a list for num_returns > 1).

        Arguments are encoded as XLANG; a value with no XLANG form raises
        here (naming the argument, its type and C++), before anything is sent.
        """
        _no_kwargs(pb.CPP, self.function_name, kwargs)
        o = self._options
        n = o.get("num_returns", 1)
        if isinstance(n, str):  # a generator: refused by submit_normal_task, naming the option
            pass
        elif n > 1:  # an option the C++ SDK cannot honour: refused, not ignored
            raise ValueError(f"option 'num_returns'={o['num_returns']} is not supported for C++ function "
                             f"{self.function_name}: a C++ callee returns one value (return a std::tuple "
                             f"and use num_returns=1)")
        core = _require_core()
        desc = pb.FunctionDescriptor(cpp=pb.CppFunctionDescriptor(function_name=self.function_name))
        spec = core.new_task_spec(pb.NORMAL_TASK, pb.CPP, desc, o.get("name") or self.function_name)
        return submit_normal_task(core, spec, args, {}, o, pb.CPP)


class CppActorClass:
    """A C++ class whose instances are actors, created by a registered factory:
    ``polyray.cpp_actor_class("Counter::Create", "Counter").remote(0)``.

    Methods are called through the handle by their C++ name:
    ``handle.Add.remote(1)`` runs the method registered as ``Counter::Add``.
    """

    def __init__(self, create_function_name: str, class_name: str,
                 options: dict[str, Any] | None = None) -> None:
        if not isinstance(create_function_name, str) or not create_function_name:
            raise ValueError(f"cpp_actor_class needs the registered factory name (e.g. 'Counter::Create'), "
                             f"got {create_function_name!r}")
        if not isinstance(class_name, str) or not class_name:
            raise ValueError(f"cpp_actor_class needs the C++ class name (e.g. 'Counter'), got {class_name!r}")
        self.create_function_name = create_function_name
        self.class_name = class_name
        self._options = opts.validate(options or {}, opts.ACTOR_OPTIONS, f"C++ actor class {class_name}")

    def __repr__(self) -> str:
        return f"CppActorClass({self.create_function_name!r}, {self.class_name!r})"

    def options(self, **options: Any) -> CppActorClass:
        """The same class with options overridden (name, namespace, lifetime, resources, ...)."""
        merged = dict(self._options)
        merged.update(opts.validate(options, opts.ACTOR_OPTIONS, f"C++ actor class {self.class_name}"))
        return CppActorClass(self.create_function_name, self.class_name, merged)

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        """Create the actor (the factory gets ``args``); returns its handle."""
        _no_kwargs(pb.CPP, self.create_function_name, kwargs)
        core = _require_core()
        desc = pb.FunctionDescriptor(cpp=pb.CppFunctionDescriptor(
            function_name=self.create_function_name, class_name=self.class_name))
        spec = core.new_task_spec(pb.ACTOR_CREATION_TASK, pb.CPP, desc, self.create_function_name)
        return create_actor(core, spec, args, {}, self._options, pb.CPP, False, None)


def cpp_function(function_name: str) -> CppFunction:
    """A C++ function to call as a task, by the name it was registered under
    with ``POLYRAY_REMOTE`` (``"Plus1"``)."""
    return CppFunction(function_name)


def cpp_actor_class(create_function_name: str, class_name: str) -> CppActorClass:
    """A C++ class to instantiate as an actor: its registered factory
    (``"Counter::Create"``) and its class name (``"Counter"``)."""
    return CppActorClass(create_function_name, class_name)
