"""Checks on messages where they enter a process (docs/fault-tolerance.md, "Bad input").

Every gRPC method of the GCS, the raylet and the CoreWorker service, and the
push port, check what they receive against the runtime spec's [ids] sizes and
[limits] before acting on it. A failed check raises :class:`InvalidInput`
whose message names the field: ``TaskSpec.task_id: 3 bytes, expected 24``.
Services answer it as INVALID_ARGUMENT; a worker answers a bad task with an
error result for that task when the task can be addressed (its task id and
num_returns are sound), else it drops the push connection.

Two checks: :func:`check_message` walks any message by its descriptor (ids by
field name, enum values, string lengths, list lengths, ErrorRecord depth);
:func:`check_task_spec` is the hand-written check of a TaskSpec for the hot
path (it and the walk agree on what they both cover). Java has the same in
``io.polyray.runtime.worker.Validation``, C++ in ``cpp/src/core/validation.h``.
"""

from __future__ import annotations

import math

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import runtime_spec as spec_consts

JOB = spec_consts.IDS_JOB_BYTES
ACTOR = spec_consts.IDS_ACTOR_BYTES
TASK = spec_consts.IDS_TASK_BYTES
PLACEMENT_GROUP = spec_consts.IDS_PLACEMENT_GROUP_BYTES
OBJECT = spec_consts.IDS_OBJECT_BYTES
NODE = spec_consts.IDS_NODE_BYTES
WORKER = spec_consts.IDS_WORKER_BYTES

MAX_NUM_RETURNS = spec_consts.LIMITS_MAX_NUM_RETURNS
MAX_ARGS = spec_consts.LIMITS_MAX_ARGS
MAX_NESTED_REFS = spec_consts.LIMITS_MAX_NESTED_REFS
MAX_ERROR_DEPTH = spec_consts.LIMITS_MAX_ERROR_DEPTH
MAX_NAME_BYTES = spec_consts.LIMITS_MAX_NAME_BYTES
MAX_LIST_ENTRIES = spec_consts.LIMITS_MAX_LIST_ENTRIES
MAX_TASKS_PER_PUSH = spec_consts.LIMITS_MAX_TASKS_PER_PUSH

#: The size of an id field, by field name (empty is allowed by the walk:
#: whether a field is required is the method's business).
ID_SIZES: dict[str, int] = {
    "job_id": JOB, "actor_id": ACTOR, "task_id": TASK, "parent_task_id": TASK,
    "placement_group_id": PLACEMENT_GROUP, "object_id": OBJECT, "object_ids": OBJECT,
    "node_id": NODE, "in_store_node": NODE, "locations": NODE, "bundle_nodes": NODE,
    "worker_id": WORKER, "caller_worker_id": WORKER, "owner_worker_id": WORKER,
    "added": OBJECT, "removed": OBJECT, "lender": WORKER, "lent_received_lenders": WORKER,
}
_TASK_TYPES = frozenset(pb.TaskType.DESCRIPTOR.values_by_number)
_LANGUAGES = frozenset(pb.Language.DESCRIPTOR.values_by_number)
_FORMATS = frozenset(pb.Format.DESCRIPTOR.values_by_number)
_SCHEDULING_KINDS = frozenset(pb.SchedulingKind.DESCRIPTOR.values_by_number)
_NAME_CHARS = MAX_NAME_BYTES // 4  # a str of at most this many characters fits in any encoding

#: Free text that may be longer than a name (messages, tracebacks, log lines).
TEXT_FIELDS = frozenset({"message", "traceback", "lines", "reason", "death_reason"})


class InvalidInput(ValueError):
    """A message field that fails a check; ``str()`` names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


#: The longest TaskSpec.runtime_env (its JSON; package URIs, variables, pip requirements).
MAX_RUNTIME_ENV_CHARS = 64 * 1024

def check_id(value: bytes, field: str, size: int, *, optional: bool = False) -> None:
    """``value`` is ``size`` bytes (or empty when ``optional``)."""
    n = len(value)
    if n != size and not (optional and n == 0):
        raise InvalidInput(field, f"{n} bytes, expected {size}")


def check_enum(value: int, enum_type, field: str) -> None:
    """``value`` is a known value of ``enum_type`` (a generated enum wrapper)."""
    if value not in enum_type.DESCRIPTOR.values_by_number:
        raise InvalidInput(field, f"unknown {enum_type.DESCRIPTOR.name} value {value}")


def check_name(value: str, field: str) -> None:
    """A name or descriptor string of at most MAX_NAME_BYTES bytes."""
    if len(value) > _NAME_CHARS and len(value.encode()) > MAX_NAME_BYTES:
        raise InvalidInput(field, f"{len(value.encode())} bytes, at most {MAX_NAME_BYTES}")


def check_count(n: int, field: str, limit: int) -> None:
    if n > limit:
        raise InvalidInput(field, f"{n} entries, at most {limit}")


def check_message(message: Message, name: str = "") -> None:
    """Walk ``message`` by its descriptor: ids by field name, enums, string and
    list lengths, nesting depth; TaskSpecs get :func:`check_task_spec`."""
    _walk(message, name or message.DESCRIPTOR.name, 0)


def _walk(message: Message, path: str, depth: int) -> None:
    if depth > MAX_ERROR_DEPTH:
        raise InvalidInput(path, f"nested deeper than {MAX_ERROR_DEPTH}")
    desc = message.DESCRIPTOR
    if desc.full_name == "polyray.rpc.TaskSpec":
        check_task_spec(message, path, required=False)  # type: ignore[arg-type]
        return
    for field, value in message.ListFields():
        fname = field.name
        where = f"{path}.{fname}"
        if field.is_repeated:
            check_count(len(value), where, MAX_LIST_ENTRIES)
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                _walk_map(field, value, where, depth)
                continue
            for i, item in enumerate(value):
                _walk_value(field, item, f"{where}[{i}]", fname, depth)
        else:
            _walk_value(field, value, where, fname, depth)


def _walk_map(field: FieldDescriptor, value, where: str, depth: int) -> None:
    entry = field.message_type
    assert entry is not None
    key_f = entry.fields_by_name["key"]
    val_f = entry.fields_by_name["value"]
    for k, v in value.items():
        if key_f.type == FieldDescriptor.TYPE_STRING:
            check_name(k, f"{where} key")
        _walk_value(val_f, v, f"{where}[{k!r}]", "value", depth)


def _walk_value(field: FieldDescriptor, value, where: str, fname: str, depth: int) -> None:
    t = field.type
    if t == FieldDescriptor.TYPE_MESSAGE:
        _walk(value, where, depth + 1)
    elif t == FieldDescriptor.TYPE_BYTES:
        size = ID_SIZES.get(fname)
        if size is not None:
            check_id(value, where, size, optional=True)
    elif t == FieldDescriptor.TYPE_STRING:
        if fname not in TEXT_FIELDS:
            check_name(value, where)
    elif t == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        assert enum is not None
        if value not in enum.values_by_number:
            raise InvalidInput(where, f"unknown {enum.name} value {value}")
    elif t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        if not math.isfinite(value):
            raise InvalidInput(where, f"{value} is not a finite number")
    elif fname.endswith("port") and not 0 <= value < 65536:
        raise InvalidInput(where, f"{value} is not a port (0..65535)")


def _check_address(a: pb.Address, field: str) -> None:
    n = len(a.node_id)
    if n and n != NODE:
        check_id(a.node_id, field + ".node_id", NODE)
    n = len(a.worker_id)
    if n and n != WORKER:
        check_id(a.worker_id, field + ".worker_id", WORKER)
    if len(a.host) > _NAME_CHARS:
        check_name(a.host, field + ".host")
    if not 0 <= a.port < 65536:
        raise InvalidInput(field + ".port", f"{a.port} is not a port (0..65535)")
    if not 0 <= a.push_port < 65536:
        raise InvalidInput(field + ".push_port", f"{a.push_port} is not a port (0..65535)")


def _check_refs(refs, field: str) -> None:
    check_count(len(refs), field, MAX_NESTED_REFS)
    for i, r in enumerate(refs):
        check_id(r.object_id, f"{field}[{i}].object_id", OBJECT)
        _check_address(r.owner, f"{field}[{i}].owner")


def _check_arg(a: pb.TaskArg, field: str) -> None:
    kind = a.WhichOneof("kind")
    if kind == "value":
        env = a.value
        if env.format not in _FORMATS:
            raise InvalidInput(field + ".value.format", f"unknown Format value {env.format}")
        check_count(len(env.buffers), field + ".value.buffers", MAX_LIST_ENTRIES)
    elif kind == "ref":
        check_id(a.ref.object_id, field + ".ref.object_id", OBJECT)
        _check_address(a.ref.owner, field + ".ref.owner")
    else:
        raise InvalidInput(field, "neither a value nor a ref")
    if a.nested_refs:
        _check_refs(a.nested_refs, field + ".nested_refs")


def _arg_ok(a: pb.TaskArg) -> bool:
    """The common case of _check_arg, without building field names."""
    if a.nested_refs:
        return False
    kind = a.WhichOneof("kind")
    if kind == "value":
        env = a.value
        return env.format in _FORMATS and len(env.buffers) <= MAX_LIST_ENTRIES
    return False


def _check_function(spec: pb.TaskSpec, field: str) -> None:
    f = spec.function
    kind = f.WhichOneof("kind")
    if kind is None:
        raise InvalidInput(field, "not set")
    if kind == "python":
        p = f.python
        if len(p.module) > _NAME_CHARS or len(p.qualname) > _NAME_CHARS:
            check_name(p.module, field + ".python.module")
            check_name(p.qualname, field + ".python.qualname")
        if len(p.function_hash) > MAX_NAME_BYTES:
            raise InvalidInput(field + ".python.function_hash",
                               f"{len(p.function_hash)} bytes, at most {MAX_NAME_BYTES}")
    elif kind == "java":
        j = f.java
        check_name(j.class_name, field + ".java.class_name")
        check_name(j.method_name, field + ".java.method_name")
        check_name(j.signature, field + ".java.signature")
    else:
        c = f.cpp
        check_name(c.function_name, field + ".cpp.function_name")
        check_name(c.class_name, field + ".cpp.class_name")


def task_addressable(spec: pb.TaskSpec) -> bool:
    """Whether an error result can be sent for ``spec``: its return ids can be
    made (a sound task id and num_returns)."""
    return len(spec.task_id) == TASK and 0 <= spec.num_returns <= MAX_NUM_RETURNS


def check_task_spec(spec: pb.TaskSpec, field: str = "TaskSpec", *, required: bool = True) -> None:
    """Everything a process relies on in a TaskSpec before running or routing it.

    ``required=False`` (a spec inside a lease request, say) lets the ids and
    the function be absent; what is there must still be sound."""
    if len(spec.task_id) != TASK and (required or spec.task_id):
        check_id(spec.task_id, field + ".task_id", TASK)
    n = spec.num_returns
    if not 0 <= n <= MAX_NUM_RETURNS:
        raise InvalidInput(field + ".num_returns", f"{n}, expected 0..{MAX_NUM_RETURNS}")
    t = spec.type
    if t not in _TASK_TYPES:
        raise InvalidInput(field + ".type", f"unknown TaskType value {t}")
    if spec.language not in _LANGUAGES:
        raise InvalidInput(field + ".language", f"unknown Language value {spec.language}")
    if spec.caller_language not in _LANGUAGES:
        raise InvalidInput(field + ".caller_language", f"unknown Language value {spec.caller_language}")
    if len(spec.job_id) != JOB and (required or spec.job_id):
        check_id(spec.job_id, field + ".job_id", JOB)
    if spec.parent_task_id:
        check_id(spec.parent_task_id, field + ".parent_task_id", TASK)
    if required or spec.HasField("function"):
        _check_function(spec, field + ".function")
    _check_address(spec.caller, field + ".caller")
    args = spec.args
    kwargs = spec.kwargs
    n_args = len(args) + len(kwargs)
    if n_args > MAX_ARGS:
        raise InvalidInput(field + ".args", f"{n_args} arguments, at most {MAX_ARGS}")
    for i, a in enumerate(args):
        if not _arg_ok(a):
            _check_arg(a, f"{field}.args[{i}]")
    for i, kw in enumerate(kwargs):
        check_name(kw.name, f"{field}.kwargs[{i}].name")
        _check_arg(kw.arg, f"{field}.kwargs[{i}].arg")
    resources = spec.resources
    if resources:
        check_count(len(resources), field + ".resources", MAX_LIST_ENTRIES)
        for name, amount in resources.items():
            check_name(name, f"{field}.resources key")
            if not math.isfinite(amount) or amount < 0:
                raise InvalidInput(f"{field}.resources[{name!r}]",
                                   f"{name!r} must not be negative or infinite, got {amount}")
    if spec.HasField("scheduling"):
        s = spec.scheduling
        if s.kind not in _SCHEDULING_KINDS:
            raise InvalidInput(field + ".scheduling.kind", f"unknown SchedulingKind value {s.kind}")
        check_id(s.node_id, field + ".scheduling.node_id", NODE, optional=True)
        check_id(s.placement_group_id, field + ".scheduling.placement_group_id", PLACEMENT_GROUP, optional=True)
        if s.bundle_index < -1:
            raise InvalidInput(field + ".scheduling.bundle_index", f"{s.bundle_index}, expected >= -1")
    if spec.max_retries < -1 or spec.max_restarts < -1 or spec.max_task_retries < -1:
        for name in ("max_retries", "max_restarts", "max_task_retries"):
            value = getattr(spec, name)
            if value < -1:
                raise InvalidInput(f"{field}.{name}", f"{value}, expected >= -1 (-1 = forever)")
    if spec.attempt < 0:
        raise InvalidInput(field + ".attempt", f"{spec.attempt}, expected >= 0")
    if spec.max_concurrency < 0:
        raise InvalidInput(field + ".max_concurrency", f"{spec.max_concurrency}, expected >= 0")
    if len(spec.name) > _NAME_CHARS:
        check_name(spec.name, field + ".name")
    if t != pb.NORMAL_TASK:
        if len(spec.actor_id) != ACTOR and (required or spec.actor_id):
            check_id(spec.actor_id, field + ".actor_id", ACTOR)
        check_name(spec.actor_name, field + ".actor_name")
        check_name(spec.actor_namespace, field + ".actor_namespace")
    elif spec.actor_id:
        check_id(spec.actor_id, field + ".actor_id", ACTOR)
    if spec.caller_worker_id:
        check_id(spec.caller_worker_id, field + ".caller_worker_id", WORKER)
    paths = spec.code_search_path
    if paths:
        check_count(len(paths), field + ".code_search_path", MAX_LIST_ENTRIES)
        for i, p in enumerate(paths):
            check_name(p, f"{field}.code_search_path[{i}]")
    if len(spec.runtime_env) > MAX_RUNTIME_ENV_CHARS:
        raise InvalidInput(field + ".runtime_env",
                           f"{len(spec.runtime_env)} characters, at most {MAX_RUNTIME_ENV_CHARS}")


def check_push(request: cw.PushTasksRequest) -> None:
    """The frame-level bound of a PushTasksRequest (its tasks are checked one by one)."""
    check_count(len(request.tasks), "PushTasksRequest.tasks", MAX_TASKS_PER_PUSH)


def invalid_task_result(spec: pb.TaskSpec, error: InvalidInput, worker: str = "") -> cw.TaskResult:
    """The error result of a task that failed its check (``task_addressable``
    must hold): every return is a RUNTIME_ERROR naming the field."""
    record = pb.ErrorRecord(kind=pb.RUNTIME_ERROR, type_name="InvalidArgument", language=pb.PYTHON,
                            message=f"the task was rejected by worker {worker}: {error}")
    env = pb.Envelope(format=pb.FORMAT_ERROR, body=record.SerializeToString())
    n = max(spec.num_returns, 1 if spec.type == pb.ACTOR_CREATION_TASK else 0)
    tid = spec.task_id
    return cw.TaskResult(task_id=tid, returns=[
        pb.ReturnObject(object_id=tid + i.to_bytes(4, "little"), value=env) for i in range(1, n + 1)])
