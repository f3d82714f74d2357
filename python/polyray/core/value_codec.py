"""Values in and out of envelopes, as this process sees them.

The protocol's codec (polyray.protocol.envelope) turns values into tagged
envelopes; this module teaches it this process's ObjectRefs and actor
handles: an ObjectRef encodes as its id and owner, and a decoded reference
becomes an ObjectRef counted by this process's reference counter (a borrow
when another process owns it).

Invariants: decoding a value that holds references creates exactly one
ObjectRef per reference found; encoding never creates one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from polyray.core import actor_handles, errors
from polyray.core.object_ref import ObjectRef
from polyray.protocol import common_pb2 as pb
from polyray.protocol import envelope


class _Hooks(envelope.CodecHooks):
    """Teaches the codec about this process's ObjectRefs and actor handles."""

    def __init__(self, codec: ValueCodec) -> None:
        self._codec = codec

    def encode_object_ref(self, obj: Any) -> pb.ObjectRef | None:
        if isinstance(obj, ObjectRef):
            return obj.to_proto()
        return None

    def encode_actor_handle(self, obj: Any) -> pb.ActorHandle | None:
        to_proto = getattr(obj, "_polyray_handle_proto", None)
        return to_proto() if to_proto is not None else None

    def decode_object_ref(self, msg: pb.ObjectRef) -> Any:
        return self._codec.ref_from_proto(msg)

    def decode_actor_handle(self, msg: pb.ActorHandle) -> Any:
        return self._codec.actor_handle_factory(msg)


class ValueCodec:
    """Encodes and decodes values with this process's reference hooks."""

    def __init__(self, *, worker_id: bytes) -> None:
        self._worker_id = worker_id
        #: Builds an actor handle from its protocol form (the API layer sets it:
        #: the core does not know the API's ActorHandle class).
        self.actor_handle_factory: Callable[[pb.ActorHandle], Any] = lambda m: m
        self.hooks = _Hooks(self)

    def ref_from_proto(self, msg: pb.ObjectRef) -> ObjectRef:
        """An ObjectRef for a reference read from the wire (owned here, or borrowed)."""
        owner = msg.owner
        if owner.worker_id == self._worker_id:
            return ObjectRef(msg.object_id, None)
        return ObjectRef(msg.object_id, owner)

    def hold_nested(self, refs: Sequence[pb.ObjectRef]) -> list:
        """ObjectRefs that keep references nested in a value alive while the value is here."""
        if not refs:
            return []
        return [self.ref_from_proto(r) for r in refs]

    def encode(self, value: Any, target: int, path: str = "value") -> envelope.Encoded:
        """Encode a value for a consumer of language ``target``. Counted actor handles in it
        add their pseudo-object to ``nested_refs`` (actor_handles.py): the value holds them."""
        enc = envelope.encode(value, target, self.hooks, path=path)
        if enc.nested_handles:
            for h in enc.nested_handles:
                ref = actor_handles.handle_ref(h)
                if ref is not None:
                    enc.nested_refs.append(ref)
        return enc

    def decode(self, env: pb.Envelope) -> Any:
        """The value of an inline envelope (raises the error an ERROR envelope holds)."""
        if env.format == pb.FORMAT_ERROR:
            raise errors.exception_from_record(pb.ErrorRecord.FromString(env.body))
        return envelope.decode_proto(env, self.hooks)

    def decode_parts(self, fmt: int, body: Any, buffers: list) -> Any:
        """The value of an envelope read from the store (raises an ERROR envelope's error)."""
        if fmt == pb.FORMAT_ERROR:
            raise errors.exception_from_record(pb.ErrorRecord.FromString(bytes(body)))
        return envelope.decode(fmt, body, buffers, self.hooks)
