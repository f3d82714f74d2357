"""Getting object values: get, wait, futures, and task arguments.

An object's value is found in this process's memory store: inline values
directly; values in a shared store by reading (or first pulling) the copy.
Objects owned elsewhere are fetched from their owner (GetObject) when first
asked for, except a borrowed object sealed in this node's store whose
borrow is registered and whose owner is not known dead: get() reads that
copy without asking (local reads, owner_watch.py). A worker that blocks in
get() inside a task lends its CPU to its node while it waits
(NotifyWorkerBlocked), so nested tasks deeper than the node's CPUs can run.

A stored object with no readable copy left is recomputed: an owned one by
ObjectRecovery (from its lineage), a borrowed one by asking its owner again
with ``lost`` set; the get then waits for the new value.

Invariants: every wait ends, by value, error or timeout; one fetch per
object at a time; what was fetched about a borrowed object (its owner, the
nodes holding copies) is kept only for reading it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import grpc
import msgpack

from polyray import exceptions as exc
from polyray.core import errors
from polyray.core.connections import Connections
from polyray.core.io_loop import IoLoop
from polyray.core.memory_store import Entry, MemoryStore
from polyray.core.node_store import NodeStore
from polyray.core.object_puller import ObjectPuller
from polyray.core.object_ref import ObjectRef
from polyray.core.owned_objects import OwnedObjects
from polyray.core.owner_watch import reads_locally
from polyray.core.rpc import RPC_TIMEOUT, address_str
from polyray.core.value_codec import ValueCodec
from polyray.core.worker_context import WorkerContext
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol import envelope
from polyray.protocol import raylet_pb2 as rl
from polyray.protocol import runtime_spec as spec
from polyray.store import StoreTimeoutError  # here, not on the first read: that get() paid the import (13-20 ms)

# How long an owner may hold one GetObject open; the fetch asks again after.
GET_OBJECT_WAIT_MS = spec.RPC_GET_OBJECT_WAIT_MS
# Fetches of borrowed objects (docs/ownership.md, "Fan-out"): GetObjects calls
# open per owner, and ids per call.
MAX_FETCHES_PER_OWNER = spec.FANOUT_MAX_FETCHES_IN_FLIGHT_PER_OWNER
MAX_IDS_PER_FETCH = spec.FANOUT_MAX_IDS_PER_FETCH
# An owner that serves only GetObject: calls open per batch of ids.
LEGACY_FETCHES_PER_CALL = 32
# How long a read of the local store waits for an object to be sealed.
STORE_WAIT_S = spec.RPC_STORE_WAIT_MS / 1000
# How many times one get() has a lost object recomputed (or asks its owner
# again) before it raises the loss; each recompute is bounded by max_retries.
MAX_RECOVERIES_PER_GET = 8
# A task's get() that is not done within this long lends its CPU to the node
# (NotifyWorkerBlocked); one of objects that already exist (an owner's quick
# GetObject answer) keeps it.
BLOCK_GRACE_S = 0.05
# Values in this node's store that one get() pins and reads with one store
# call (bounds the pins a get holds at once).
STORE_READ_BATCH = 256
# A get() of at least this many borrowed refs copies the plain values already
# in this node's store while their owners are asked (docs/scale.md, "Early
# reads"); the owners' answers still decide what the get returns.
EARLY_READ_MIN = 8


class ObjectGetter:
    """get / wait / futures of ObjectRefs, and the arguments of pushed tasks."""

    def __init__(self, *, ctx: WorkerContext, io: IoLoop, connections: Connections, memory_store: MemoryStore,
                 codec: ValueCodec, node_store: NodeStore, puller: ObjectPuller, owned: OwnedObjects) -> None:
        self._ctx = ctx
        self._io = io
        self._connections = connections
        self._memory_store = memory_store
        self._codec = codec
        self._node_store = node_store
        self._puller = puller
        self._owned = owned
        # What the owners of borrowed objects said: the owner, and the nodes
        # holding copies beyond the primary one (from GetObject replies).
        self._owners: dict[bytes, pb.Address] = {}
        self._borrowed_locations: dict[bytes, list[bytes]] = {}
        self._fetching: set[bytes] = set()
        # Borrowed objects being fetched, queued and in flight per owner (by worker id).
        self._owner_fetches: dict[bytes, _OwnerFetches] = {}
        self._blocked_call: asyncio.Future | None = None
        # Borrowed objects whose copies this process could not read: the next
        # GetObject tells the owner (``lost``), which recomputes them.
        self._lost: set[bytes] = set()
        # ObjectRecovery, set by the CoreWorker (None: lost objects raise at once).
        self.recovery: Any = None
        # Local reads (docs/ownership.md, "Local reads"), set by the CoreWorker:
        # the ReferenceCounter (is a borrow registered) and the OwnerWatch (is an
        # owner known dead). None: every borrowed get waits for the owner.
        self.references: Any = None
        self.owner_watch: Any = None

    # -- values -------------------------------------------------------------------
    def decode_entry(self, oid: bytes, entry: Entry, timeout: float | None = None) -> Any:
        """The value of a ready object (raises its error); a lost stored copy is recomputed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in range(MAX_RECOVERIES_PER_GET + 1):
            if entry.error is not None:
                raise errors.exception_from_record(entry.error)
            if entry.envelope is not None:
                return self._codec.decode(entry.envelope)
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return self._read_from_store(oid, entry.in_store_node, left)
            except exc.ObjectLostError:
                if attempt == MAX_RECOVERIES_PER_GET or self._io.on_io_thread():
                    raise
                recovered = self._recover(oid, entry, deadline)
                if recovered is None:
                    raise
                entry = recovered
        raise AssertionError("unreachable")

    def _recover(self, oid: bytes, entry: Entry, deadline: float | None) -> Entry | None:
        """Have a lost stored object recomputed (owned: here; borrowed: by its owner) and
        wait for its new entry; None when it cannot be (the caller raises the loss)."""
        store = self._memory_store
        if self._owned.is_owned(oid):
            if self.recovery is None:
                return None
            self._io.run(self.recovery.recover(oid, entry), timeout=RPC_TIMEOUT)
        else:
            owner = self._owners.get(oid)
            if owner is None:
                return None
            ref = ObjectRef(oid, owner)

            def ask_again() -> None:
                if store.get_if_ready(oid) is entry:
                    store.delete(oid)
                self._borrowed_locations.pop(oid, None)
                self._lost.add(oid)
                self._start_fetch(ref)

            async def on_loop() -> None:
                ask_again()
            self._io.run(on_loop(), timeout=RPC_TIMEOUT)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not store.wait_indices([oid], 1, left):
            raise exc.GetTimeoutError(f"get() timed out while object {oid.hex()} was being recomputed")
        return store.get_if_ready(oid)

    async def recover_lost(self, oid: bytes, entry: Entry) -> bool:
        """(Owner, on the loop.) A borrower could read no copy of ``oid``: if no node
        holds one any more, recompute it. True when the entry was reset (wait again)."""
        if self.recovery is None or not entry.in_store_node or entry.error is not None \
                or entry.envelope is not None:
            return False
        for node in self._owned.locations_of(oid, entry.in_store_node):
            if await self.recovery.copy_exists(oid, node):
                return False
        await self.recovery.recover(oid, entry)
        return self._memory_store.get_if_ready(oid) is not entry

    def _read_from_store(self, oid: bytes, node_id: bytes, timeout: float | None) -> Any:
        store = self._node_store.store
        view = None
        if node_id and node_id != self._ctx.node_id:
            try:
                view = store.get_one(oid, timeout=0)  # pulled here before
            except StoreTimeoutError:
                self._pull(oid, node_id, timeout)
        if view is None:
            try:
                # At most STORE_WAIT_S for a copy to be sealed: one that is gone is lost
                # (and its owner asked again), not waited for to the get's end.
                wait_s = STORE_WAIT_S if timeout is None else min(STORE_WAIT_S, max(timeout, 0.001))
                view = store.get_one(oid, timeout=wait_s)
            except StoreTimeoutError:
                raise exc.ObjectLostError(
                    f"object {oid.hex()} is not in this node's store (freed or evicted)") from None
        fmt, body, buffers = envelope.unpack_from(view.metadata, view.data)
        return self._codec.decode_parts(fmt, body, buffers)

    def _pull(self, oid: bytes, primary: bytes, timeout: float | None) -> None:
        """Copy a remote object into this node's store (blocking; user threads only)."""
        if self._io.on_io_thread():
            raise RuntimeError(f"object {oid.hex()} must be pulled from another node, which cannot be "
                               "done on the CoreWorker's io thread")
        locations = self.locations_of(oid, primary)
        try:
            self._io.run(self._puller.pull(oid, locations, self._owners.get(oid)), timeout)
        except concurrent.futures.TimeoutError:
            raise exc.GetTimeoutError(f"get() timed out after {timeout} s while pulling object {oid.hex()} "
                                      f"from node {primary.hex()[:12]}") from None

    def locations_of(self, oid: bytes, primary: bytes) -> list[bytes]:
        """Every node known to hold ``oid`` (owned or borrowed): the primary copy's first."""
        out = self._owned.locations_of(oid, primary)
        out += [n for n in self._borrowed_locations.get(oid, ()) if n not in out]
        return out

    # -- get / wait -------------------------------------------------------------------
    def get(self, refs: list[ObjectRef], timeout: float | None) -> list[Any]:
        """Block until every ref has a value (or error); raise GetTimeoutError after timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ready_entry = self._memory_store.get_if_ready
        missing = [r for r in refs if ready_entry(r._id) is None]
        early: dict[bytes, Any] = {}
        local: dict[int, Any] = {}
        if missing and self.owner_watch is not None:
            local = self._read_local(refs)
            if local:
                missing = [r for i, r in enumerate(refs) if i not in local and ready_entry(r._id) is None]
        if missing:
            self._io.call_soon(self._start_fetches, missing)
            want = list(dict.fromkeys(r._id for r in missing))
            if len(want) >= EARLY_READ_MIN:
                early = self._read_early(missing)
            ctx = self._ctx
            lend = not ctx.is_driver and ctx.in_task() and not ctx.actor_id
            wait = self._memory_store.wait_indices
            ready = []
            if lend:
                # Only a get that really blocks lends its CPU: first give the
                # owners a moment to answer about objects that already exist.
                first = BLOCK_GRACE_S if timeout is None else min(BLOCK_GRACE_S, timeout)
                ready = wait(want, len(want), first, abort_on_error=True)
                lend = len(ready) < len(want) and not self._error_among(want, ready) and (
                    deadline is None or time.monotonic() < deadline)
            if lend:
                # Lend this task's CPUs to the node while it waits, so the
                # tasks it waits for can run (nested tasks deeper than CPUs).
                self._io.call_soon(self._notify_blocked, True)
                try:
                    left = None if deadline is None else max(0.0, deadline - time.monotonic())
                    ready = wait(want, len(want), left, abort_on_error=True)
                finally:
                    self._io.call_soon(self._notify_blocked, False)
            elif len(ready) < len(want) and not self._error_among(want, ready):
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready = wait(want, len(want), left, abort_on_error=True)
            if len(ready) < len(want):
                # First error wins, as in Ray: the first ref in list order
                # whose error is known by now, without waiting for the rest.
                for r in refs:
                    entry = ready_entry(r._id)
                    if entry is not None and entry.is_error:
                        self.decode_entry(r._id, entry)  # raises its error
                got = {want[i] for i in ready}
                raise exc.GetTimeoutError(
                    f"get() timed out after {timeout} s: {len(want) - len(ready)} of {len({r._id for r in refs})} "
                    f"object(s) not ready (first: {next(o for o in want if o not in got).hex()})")
        values = []
        views: dict[int, Any] = {}  # index in refs -> pinned view, read ahead in batches
        next_batch = 0
        for i, r in enumerate(refs):
            if i in local:
                values.append(local.pop(i))
                continue
            oid = r._id
            entry = ready_entry(oid)
            if entry is None and self._owned.is_owned(oid) and self._memory_store.wait_indices([oid], 1, (
                    None if deadline is None else max(0.0, deadline - time.monotonic()))):
                entry = ready_entry(oid)  # being recomputed by another get()
            if entry is None:  # freed concurrently
                raise exc.ObjectLostError(f"object {oid.hex()} was freed while being read")
            if early and entry.envelope is None and entry.error is None and entry.in_store_node:
                # The owner answered that the object is stored (it exists, it is
                # not lost): the copy read before its answer is its value (once:
                # a ref listed twice gets a second, separate value).
                value = early.pop(oid, _NOT_PLAIN)
                if value is not _NOT_PLAIN:
                    values.append(value)
                    continue
            if i >= next_batch and self._in_local_store(entry):
                next_batch = self._read_batch(refs, i, views)
            view = views.pop(i, None)
            if view is not None and entry.envelope is None and entry.error is None:
                values.append(self._decode_view(view))
                continue
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            values.append(self.decode_entry(oid, entry, left))
        return values

    def _read_local(self, refs: list[ObjectRef]) -> dict[int, Any]:
        """The values of the borrowed ``refs`` that get() takes from this node's store
        without its owners' answers, by index in ``refs`` (docs/ownership.md, "Local reads").

        A ref qualifies when it is not ready here yet and ``reads_locally``
        holds (borrow registered, owner not known dead) and its object is
        sealed in this node's store now; no owner is asked about it. Values are
        decoded as after an answer (zero-copy buffers keep their view); a ref
        listed twice gets two separate values. The rest is left to the owners.
        """
        ready_entry = self._memory_store.get_if_ready
        registered = self.references.is_borrow_registered
        is_dead = self.owner_watch.is_dead
        owned = self._owned.is_owned
        at: dict[bytes, list[int]] = {}
        owners: dict[bytes, pb.Address] = {}
        for i, r in enumerate(refs):
            owner = r._owner
            oid = r._id
            if owner is None or ready_entry(oid) is not None:
                continue
            if oid not in at and not reads_locally(has_owner=True, owned=owned(oid), registered=registered(oid),
                                                   owner_dead=is_dead(owner.worker_id)):
                continue
            at.setdefault(oid, []).append(i)
            owners[owner.worker_id] = owner
        if not at:
            return {}
        out: dict[int, Any] = {}
        store = self._node_store.store
        ids = list(at)
        for k in range(0, len(ids), STORE_READ_BATCH):
            chunk = ids[k:k + STORE_READ_BATCH]
            try:
                views = store.get(chunk, timeout=0)
            except Exception:  # noqa: BLE001 - no store here (closed, shutting down): ask the owners
                break
            for oid, view in zip(chunk, views):
                if view is None:
                    continue
                for n, i in enumerate(at[oid]):  # a ref listed twice: a second read, a separate value
                    try:
                        out[i] = self._decode_view(view if n == 0 else store.get_one(oid, timeout=0))
                    except Exception:  # noqa: BLE001 - gone meanwhile, or an error value: the owner path decides
                        break
        if out:
            note = self.owner_watch.note
            for owner in owners.values():
                note(owner)
        return out

    def _read_early(self, refs: list[ObjectRef]) -> dict[bytes, Any]:
        """While the owners of ``refs`` are asked: the values of the borrowed ones
        that this node's store holds now and that are plain data, by id.

        A copy in the store is the object's value (objects never change), but
        only the owner can say the object still exists (not freed, not lost, its
        owner alive), so get() uses these values only for ids the owner then
        answers as stored; for the rest they are dropped. Only XLANG values
        without ext types are read this early (msgpack data: no user code runs,
        no refs are deserialized); the rest are read after the answer as before.
        Pins are held only while a value is copied.
        """
        owned = self._owned.is_owned
        ids = [oid for oid in dict.fromkeys(r._id for r in refs if r._owner is not None) if not owned(oid)]
        out: dict[bytes, Any] = {}
        store = self._node_store.store
        for k in range(0, len(ids), STORE_READ_BATCH):
            chunk = ids[k:k + STORE_READ_BATCH]
            try:
                views = store.get(chunk, timeout=0)
            except Exception:  # noqa: BLE001 - no store here (closed, shutting down): read after the answers
                return out
            for oid, view in zip(chunk, views):
                if view is None:
                    continue
                try:
                    value = _decode_plain(view)
                finally:
                    view.release()
                if value is not _NOT_PLAIN:
                    out[oid] = value
        return out

    def _decode_view(self, view: Any) -> Any:
        fmt, body, buffers = envelope.unpack_from(view.metadata, view.data)
        return self._codec.decode_parts(fmt, body, buffers)

    def _in_local_store(self, entry: Entry) -> bool:
        node = entry.in_store_node
        return entry.envelope is None and entry.error is None and (not node or node == self._ctx.node_id)

    def _read_batch(self, refs: list[ObjectRef], start: int, views: dict[int, Any]) -> int:
        """Pin, with one store call and no waiting, the next STORE_READ_BATCH values of ``refs``
        (from ``start``) that are in this node's store; the index after the last one looked at.

        What is not there yet (or cannot be read) is left to decode_entry,
        which waits for it, pulls it or has it recomputed, as for a single read.
        """
        ready_entry = self._memory_store.get_if_ready
        at: list[int] = []
        i = start
        while i < len(refs) and len(at) < STORE_READ_BATCH:
            entry = ready_entry(refs[i]._id)
            if entry is not None and self._in_local_store(entry):
                at.append(i)
            i += 1
        if len(at) > 1:
            try:
                got = self._node_store.store.get([refs[k]._id for k in at], timeout=0)
            except Exception:  # noqa: BLE001 - a closed store: each read reports it itself
                return i
            for k, view in zip(at, got):
                if view is not None:
                    views[k] = view
        return i

    def _error_among(self, oids: list[bytes], ready: list[int]) -> bool:
        entry = self._memory_store.get_if_ready
        return any((e := entry(oids[i])) is not None and e.is_error for i in ready)

    def wait(self, refs: list[ObjectRef], num_returns: int, timeout: float | None,
             fetch_local: bool = False) -> list[ObjectRef]:
        """The first num_returns refs (in list order) whose values are ready; fewer when the timeout passes.

        ``fetch_local``: a value in another node's store counts as ready only
        once it has been pulled into this node's store (as Ray's wait).
        """
        self._io.call_soon(self._start_fetches, list(refs))
        oids = [r._id for r in refs]
        ready = self._memory_store.wait_indices(oids, num_returns, timeout)
        if not fetch_local or self._io.on_io_thread():
            return [refs[i] for i in ready]
        deadline = None if timeout is None else time.monotonic() + timeout
        local: list[int] = []
        remote: list[int] = []
        while True:
            for i in ready:
                if i in local:
                    continue
                if self._is_remote_copy(oids[i]):
                    remote.append(i)
                else:
                    local.append(i)
            # Pull, in list order, until enough are local or the time is up.
            while remote and len(local) < num_returns:
                i = remote.pop(0)
                entry = self._memory_store.get_if_ready(oids[i])
                left = None if deadline is None else deadline - time.monotonic()
                if entry is None or (left is not None and left <= 0):
                    break
                try:
                    self._pull(oids[i], entry.in_store_node, left)
                except exc.GetTimeoutError:
                    break
                except exc.PolyrayError:
                    pass  # a copy that cannot be pulled is ready: its get() raises the loss
                local.append(i)
            left = None if deadline is None else deadline - time.monotonic()
            if len(local) >= num_returns or (left is not None and left <= 0) or len(ready) == len(oids):
                break
            # More may be ready now; wait for one more than those seen.
            ready = self._memory_store.wait_indices(oids, len(ready) + 1, left)
            remote = []
        return [refs[i] for i in sorted(local)[:num_returns]]

    def _is_remote_copy(self, oid: bytes) -> bool:
        """Ready, held in another node's store, and not yet copied into this node's."""
        entry = self._memory_store.get_if_ready(oid)
        if entry is None or entry.is_error or entry.envelope is not None or not entry.in_store_node:
            return False
        return entry.in_store_node != self._ctx.node_id and not self._node_store.store.contains(oid)

    def get_future(self, ref: ObjectRef) -> concurrent.futures.Future:
        """A future resolved with the ref's value (or its error)."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        oid = ref.binary()

        def decode(entry: Entry) -> None:
            try:
                fut.set_result(self.decode_entry(oid, entry))
            except BaseException as e:  # noqa: BLE001
                fut.set_exception(e)

        def done(entry: Entry) -> None:
            remote = entry.in_store_node and entry.in_store_node != self._ctx.node_id and entry.error is None \
                and entry.envelope is None
            if not remote:
                decode(entry)
                return

            async def pull_then_decode() -> None:
                try:
                    await self._puller.pull(oid, self.locations_of(oid, entry.in_store_node), self._owners.get(oid))
                except BaseException as e:  # noqa: BLE001
                    fut.set_exception(e)
                    return
                await asyncio.to_thread(decode, entry)

            self._io.spawn(pull_then_decode)

        if ref.owner_address() is not None:
            self._io.call_soon(self._start_fetch, ref)
        # Keep the ref alive until the future resolves.
        fut._polyray_ref = ref  # type: ignore[attr-defined]
        self._memory_store.on_ready(oid, done)
        return fut

    # -- task arguments -----------------------------------------------------------------
    def resolve_args(self, spec: pb.TaskSpec) -> tuple[list, dict]:
        """Decode a task's arguments; top-level refs become their values (blocking)."""
        refs_at: list[tuple[int, Any, ObjectRef]] = []
        codec = self._codec

        def one(arg: pb.TaskArg, slot: int, key: Any) -> Any:
            if arg.HasField("ref"):
                ref = codec.ref_from_proto(arg.ref)
                refs_at.append((slot, key, ref))
                return None
            return codec.decode(arg.value)

        args = [one(a, 0, i) for i, a in enumerate(spec.args)]
        kwargs = {k.name: one(k.arg, 1, k.name) for k in spec.kwargs}
        if refs_at:
            values = self.get([r for _, _, r in refs_at], None)
            for (slot, key, _), v in zip(refs_at, values):
                if slot == 0:
                    args[key] = v
                else:
                    kwargs[key] = v
        return args, kwargs

    # -- on the loop ----------------------------------------------------------------------
    def _notify_blocked(self, blocked: bool) -> None:
        previous = self._blocked_call

        async def go() -> None:
            if previous is not None:
                await asyncio.wait([previous])  # keep blocked/unblocked in order
            try:
                await self._connections.raylet.NotifyWorkerBlocked(
                    rl.NotifyWorkerBlockedRequest(worker_id=self._ctx.worker_id, blocked=blocked),
                    timeout=RPC_TIMEOUT)
            except grpc.aio.AioRpcError:
                pass
        self._blocked_call = asyncio.ensure_future(go())

    def start_fetches(self, refs: Iterable[ObjectRef]) -> None:
        """(On the loop.) Ask the owners of the borrowed refs not ready for them (actor call arguments)."""
        self._start_fetches(refs)

    def _start_fetch(self, ref: ObjectRef) -> None:
        self._start_fetches((ref,))

    def _start_fetches(self, refs: Iterable[ObjectRef]) -> None:
        """Queue the borrowed ones not ready and not being fetched on their owner's queue (on the loop)."""
        ready = self._memory_store.get_if_ready
        touched: list[_OwnerFetches] = []
        for ref in refs:
            oid = ref._id
            owner = ref._owner
            if owner is None or oid in self._fetching or ready(oid) is not None:
                continue
            self._fetching.add(oid)
            q = self._owner_fetches.get(owner.worker_id)
            if q is None:
                q = self._owner_fetches[owner.worker_id] = _OwnerFetches(owner)
            q.queue.append(oid)
            if not q.pump_due:
                q.pump_due = True
                touched.append(q)
        for q in touched:
            self._pump(q)

    def _pump(self, q: _OwnerFetches) -> None:
        """Send what ``q`` queued: at most MAX_FETCHES_PER_OWNER calls open, MAX_IDS_PER_FETCH ids each.

        When every slot is taken by calls that only wait for objects already
        found not ready, one of them is cancelled and its ids go out again with
        the new ones, so new ids never wait behind slow objects for long.
        """
        q.pump_due = False
        if self._ctx.shutting_down:
            return
        ready = self._memory_store.get_if_ready
        while q.queue:
            if len(q.calls) >= MAX_FETCHES_PER_OWNER:
                if any(oid not in q.asked for oid in q.queue):
                    for call in q.calls:
                        if call.long_poll and not call.cancelled and call.call is not None:
                            call.cancelled = True
                            call.call.cancel()
                            break
                return
            ids: list[bytes] = []
            while q.queue and len(ids) < MAX_IDS_PER_FETCH:
                oid = q.queue.popleft()
                if ready(oid) is not None:
                    self._fetching.discard(oid)
                    q.asked.discard(oid)
                    continue
                if oid in self._lost:
                    # Rare: asked with GetObject(lost), which every owner checks (C++ GetObjects ignores lost).
                    asyncio.ensure_future(self._fetch(oid, q))
                    continue
                ids.append(oid)
            if not ids:
                break
            call = _FetchCall(ids, long_poll=all(oid in q.asked for oid in ids))
            q.calls.add(call)
            asyncio.ensure_future(self._fetch_batch(q, call))
        if not q.queue and not q.calls and not q.asked:
            self._owner_fetches.pop(q.address.worker_id, None)

    async def _fetch_batch(self, q: _OwnerFetches, call: _FetchCall) -> None:
        ids = call.ids
        store = self._memory_store
        owner = q.address
        requeue: list[bytes] = []
        try:
            if self._ctx.shutting_down:
                return
            if q.legacy:
                await self._fetch_each(q, ids)
                return
            stub = self._connections.worker(owner)
            call.call = stub.GetObjects(cw.GetObjectsRequest(object_ids=ids, timeout_ms=GET_OBJECT_WAIT_MS),
                                        timeout=GET_OBJECT_WAIT_MS / 1000 + 10)
            try:
                reply = await call.call
            except (grpc.aio.AioRpcError, asyncio.CancelledError) as e:
                code = e.code() if isinstance(e, grpc.aio.AioRpcError) else grpc.StatusCode.CANCELLED
                if call.cancelled and code == grpc.StatusCode.CANCELLED:
                    requeue = ids  # cancelled here to make room: asked again with the new ones
                    return
                if code == grpc.StatusCode.UNIMPLEMENTED:
                    q.legacy = True  # an owner that serves only GetObject
                    requeue = ids
                    return
                if isinstance(e, asyncio.CancelledError):
                    raise
                self._owner_unavailable(owner, code)
                for oid in ids:
                    q.asked.discard(oid)
                    self._fetching.discard(oid)
                    store.set(oid, error=_owner_unreachable(oid, address_str(owner), code))
                return
            answered = set()
            for oid, one in zip(reply.object_ids, reply.objects):
                if oid in answered or oid not in self._fetching:
                    continue
                answered.add(oid)
                q.asked.discard(oid)
                self._fetching.discard(oid)
                self._apply(oid, owner, one)
            requeue = [oid for oid in ids if oid not in answered]
            q.asked.update(requeue)
        finally:
            q.calls.discard(call)
            if requeue and not self._ctx.shutting_down:
                q.queue.extendleft(reversed(requeue))
            elif requeue:
                self._fetching.difference_update(requeue)
            self._pump(q)

    def _apply(self, oid: bytes, owner: pb.Address, reply: cw.GetObjectReply) -> None:
        """Record an owner's answer about ``oid`` (a GetObject reply that is not timed_out)."""
        store = self._memory_store
        if reply.HasField("failure") and not reply.found:
            store.set(oid, error=reply.failure)
            return
        obj = reply.object
        if obj.HasField("value"):
            store.set(oid, envelope=obj.value, size=obj.size)
        else:
            self._owners[oid] = owner
            self._borrowed_locations[oid] = list(reply.locations)
            store.set(oid, in_store_node=obj.in_store_node, size=obj.size)

    async def _fetch_each(self, q: _OwnerFetches, ids: list[bytes]) -> None:
        """An owner without GetObjects: one GetObject per id, LEGACY_FETCHES_PER_CALL at a time."""
        sem = asyncio.Semaphore(LEGACY_FETCHES_PER_CALL)

        async def one(oid: bytes) -> None:
            async with sem:
                await self._fetch(oid, q)
        await asyncio.gather(*(one(oid) for oid in ids))

    async def _fetch(self, oid: bytes, q: _OwnerFetches) -> None:
        owner = q.address
        stub = self._connections.worker(owner)
        store = self._memory_store
        try:
            while not self._ctx.shutting_down:
                try:
                    lost = oid in self._lost
                    self._lost.discard(oid)
                    reply = await stub.GetObject(cw.GetObjectRequest(object_id=oid, timeout_ms=GET_OBJECT_WAIT_MS,
                                                                     lost=lost),
                                                 timeout=GET_OBJECT_WAIT_MS / 1000 + 10)
                except grpc.aio.AioRpcError as e:
                    self._owner_unavailable(owner, e.code())
                    store.set(oid, error=_owner_unreachable(oid, address_str(owner), e.code()))
                    return
                if reply.timed_out:
                    continue
                self._apply(oid, owner, reply)
                return
        finally:
            q.asked.discard(oid)
            self._fetching.discard(oid)

    def _owner_unavailable(self, owner: pb.Address, code: grpc.StatusCode) -> None:
        """A call to ``owner`` found nothing listening: it is known dead (no more local reads of its objects)."""
        if code == grpc.StatusCode.UNAVAILABLE and self.owner_watch is not None:
            self.owner_watch.mark_dead(owner.worker_id)

    def forget(self, oid: bytes) -> None:
        """Drop what was learnt about a borrowed object (it is no longer held here)."""
        self._owners.pop(oid, None)
        self._borrowed_locations.pop(oid, None)


_NOT_PLAIN = object()


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ValueError("not plain data")


def _decode_plain(view: Any) -> Any:
    """The value of a stored XLANG envelope of plain msgpack data, decoded as
    envelope.decode does (xlang_codec._decode_xlang with no ext met); _NOT_PLAIN
    for any other envelope (another format, out-of-band buffers, an ext type:
    a ref, a handle, an ndarray, a native value) or one that does not decode."""
    try:
        fmt, body, buffers = envelope.unpack_from(view.metadata, view.data)
        if fmt != envelope.FORMAT_XLANG or buffers:
            return _NOT_PLAIN
        return msgpack.unpackb(body, ext_hook=_refuse_ext, raw=False, strict_map_key=False)
    except Exception:  # noqa: BLE001 - decoded after the owner's answer instead, errors included
        return _NOT_PLAIN


def _owner_unreachable(oid: bytes, owner: str, code: grpc.StatusCode) -> pb.ErrorRecord:
    """The error value of a borrowed object whose owner does not answer: the
    owner died (nothing listens at its address: OWNER_DIED) or hangs (OBJECT_LOST)."""
    if code == grpc.StatusCode.UNAVAILABLE:
        record = errors.system_record(
            pb.OWNER_DIED, f"the owner of object {oid.hex()} at {owner} died ({code.name}); the object is lost")
        record.reason = pb.REASON_OWNER_DIED
        return record
    return errors.system_record(
        pb.OBJECT_LOST, f"the owner of object {oid.hex()} at {owner} is unreachable ({code.name}); the object is lost")


class _FetchCall:
    """One GetObjects call to an owner: the ids it asks for."""

    __slots__ = ("ids", "long_poll", "call", "cancelled")

    def __init__(self, ids: list[bytes], long_poll: bool) -> None:
        self.ids = ids
        # Every id was found not ready before: the owner will hold the call.
        self.long_poll = long_poll
        self.call: Any = None
        self.cancelled = False


class _OwnerFetches:
    """The fetches of one owner: ids queued, calls in flight, ids found not ready."""

    __slots__ = ("address", "queue", "calls", "asked", "legacy", "pump_due")

    def __init__(self, address: pb.Address) -> None:
        self.address = address
        self.queue: deque[bytes] = deque()
        self.calls: set[_FetchCall] = set()
        self.asked: set[bytes] = set()
        self.legacy = False
        self.pump_due = False
