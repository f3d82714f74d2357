"""Actor handles counted like references: an actor goes when its last handle goes (issue 17).

As in Ray, the creator of a non-detached actor owns it, and every handle to
it is a reference to one pseudo-object, ``handle_object_id(actor_id)``,
owned by the creator. The ReferenceCounter and the borrow protocol count
it as any object: ``ActorHandle`` instances in this process are local
references, a handle sent inside a task's arguments, a put value or a
return is a nested ref (``nested_refs``: submitted, contained, lent), a
handle decoded in another process is a borrow the owner is told about
(released when that process drops it, or by the BorrowerWatch when it
dies), and every pending call made through a handle counts as a task
argument, so calls already made finish first. When the count reaches zero
the owner's ReferenceCounter frees the pseudo-object, and ``on_free`` here
asks the GCS to destroy the actor (``KillActor`` with ``out_of_scope``:
no restart, ``REASON_OUT_OF_SCOPE``; the GCS leaves detached actors alone).

Not counted (``ActorHandle.detached``): detached actors, and handles from
``get_actor`` (Ray's rule: a handle looked up by name does not keep the
actor alive, nor do its copies).

The pseudo-object has no value and is never stored or fetched; its id is
the actor id's 12 unique bytes, 8 zero bytes and its JobID (a task id no
task has) with index 0, which no return or put uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from polyray.protocol import common_pb2 as pb
from polyray.protocol import gcs_pb2 as gcs

log = logging.getLogger(__name__)

_ZERO8 = bytes(8)
_INDEX0 = bytes(4)
#: How long the owner waits for the GCS to accept a destruction.
KILL_TIMEOUT_S = 30.0


def handle_object_id(actor_id: bytes) -> bytes:
    """The id of the pseudo-object every handle of ``actor_id`` references (28 bytes)."""
    return actor_id[:12] + _ZERO8 + actor_id[12:16] + _INDEX0


def is_handle_object_id(oid: bytes) -> bool:
    """Whether ``oid`` is an actor handle's pseudo-object id."""
    return len(oid) == 28 and oid[12:20] == _ZERO8 and oid[24:28] == _INDEX0


def actor_id_of(oid: bytes) -> bytes:
    """The actor of a handle pseudo-object id."""
    return oid[:12] + oid[20:24]


def counted(handle: pb.ActorHandle) -> bool:
    """Whether handles of this actor are counted (non-detached, not from get_actor)."""
    return not handle.detached and len(handle.actor_id) == 16


def handle_ref(handle: pb.ActorHandle) -> pb.ObjectRef | None:
    """The reference a handle holds, in protocol form (None when not counted)."""
    if not counted(handle):
        return None
    return pb.ObjectRef(object_id=handle_object_id(handle.actor_id), owner=handle.owner)


class ActorHandles:
    """(Owner.) Destroys an owned actor when the ReferenceCounter frees its handle pseudo-object.

    ``on_free`` is the ReferenceCounter's free hook for these ids: it may run
    on any thread, so it only schedules the GCS call (``kill``), which must
    not block.
    """

    def __init__(self, *, kill: Callable[[bytes], None]) -> None:
        self._kill = kill
        #: Actors this process asked to destroy (tests and listings).
        self.destroyed: list[bytes] = []

    def on_free(self, oid: bytes) -> bool:
        """Handle a freed id: True when it was a handle pseudo-object (its actor is destroyed)."""
        if not is_handle_object_id(oid):
            return False
        actor_id = actor_id_of(oid)
        self.destroyed.append(actor_id)
        try:
            self._kill(actor_id)
        except Exception as e:  # shutting down (the loop is closed): the job's end kills it
            log.debug("could not destroy actor %s: %s", actor_id.hex(), e)
        return True


def gcs_killer(io: Any, gcs_stub: Callable[[], Any]) -> Callable[[bytes], None]:
    """A ``kill`` for ActorHandles: KillActor(out_of_scope) on the io loop, not awaited."""
    def kill(actor_id: bytes) -> None:
        async def go() -> None:
            try:
                await gcs_stub().KillActor(
                    gcs.KillActorRequest(actor_id=actor_id, no_restart=True, out_of_scope=True),
                    timeout=KILL_TIMEOUT_S)
            except Exception as e:  # GCS away or actor unknown: its job's end or owner's exit kills it
                log.warning("destroying actor %s (all handles out of scope) failed: %s", actor_id.hex(), e)
        io.spawn(go)
    return kill


def hold(handle: pb.ActorHandle) -> Any:
    """The ObjectRef an ActorHandle instance keeps while it lives (a local reference in
    its owner, a borrow elsewhere); None when not counted, outside a CoreWorker, or inside
    the actor itself (its own handle, as Ray's ``current_actor``, never keeps it alive)."""
    if not counted(handle):
        return None
    from polyray.core.object_ref import get_core
    core = get_core()
    if core is None or core.actor_id == handle.actor_id:
        return None
    return core.codec.ref_from_proto(pb.ObjectRef(object_id=handle_object_id(handle.actor_id), owner=handle.owner))


def call_arg_ids(handle: Any) -> list[bytes]:
    """What a call through ``handle`` (an API ActorHandle) counts as its arguments besides its
    own: the handle's pseudo-object, so the calls made before the last handle went run first."""
    ref = getattr(handle, "_ref", None)
    return [ref.binary()] if ref is not None else []
