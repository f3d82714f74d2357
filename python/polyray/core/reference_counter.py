"""Reference counts of the objects this process owns or borrows.

An owned object stays alive while any of these is non-zero: live ObjectRef
instances here (`local`), pending tasks that take it as an argument
(`submitted`), other processes that borrow it (`borrowers`), owned objects
whose value contains it (`contained_in`), and returns that carry it to a
caller who has not registered as a borrower yet (`lent`). When every count is
zero the owner frees it: the value leaves the memory store and the node
holding it in shared memory is told to delete it.

Lends (docs/ownership.md, "The reference protocol"): a ref travelling to a
caller inside a task's return is held on that caller's behalf by its owner
(``lent[(caller, lender)]``) until the caller acknowledges it (``acked``)
after taking its own hold. The executor counts its own objects here
(``lend``, lender b"": itself) and sends the others' owners a lend
(``UpdateBorrowsRequest.lent``, naming itself as ``lender``); the caller
acknowledges every ref of every return it receives (``ack_returned``, naming
the executor the return came from: ``ReturnObject.lender``). A lender is a
holder like a borrower: when it dies before its caller acknowledged, its
lends are released with its borrows (``drop_borrower``). Callers that do
not acknowledge (older peers) are lent under the key (b"", b"") and released
by their first "added" instead.

Dead holders (docs/ownership.md, "The reference protocol", Deaths): the
counter keeps, per other process that borrows or is lent something here, how
many (object, process) records it has and the process's address
(``holders``); a BorrowerWatch asks the GCS about them while any exist and
calls ``drop_borrower`` for each dead one.

A borrowed object is one whose owner is another process. Its first local
reference registers this process as a borrower with the owner; when the last
local reference goes, the borrow is returned.

All counts are guarded by one lock; the actions a count change causes (RPCs)
run on the CoreWorker's event loop, outside the lock.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable

from polyray.protocol import common_pb2 as pb

#: The lend key of a caller that does not acknowledge (released by its first "added").
_UNACKNOWLEDGED = (b"", b"")


def _ack_key(lent: dict[tuple[bytes, bytes], int], caller: bytes, lender: bytes) -> tuple[bytes, bytes] | None:
    """The lend an acknowledgement from ``caller`` of a return from ``lender`` releases:
    that lender's; else one made without naming a lender (the owner's own, an older
    executor's); for an acknowledgement that names no lender, any of the caller's."""
    key = (caller, lender)
    if key in lent:
        return key
    key = (caller, b"")
    if key in lent:
        return key
    if not lender:
        for key in lent:
            if key[0] == caller:
                return key
    return None


class _Ref:
    """One object's counts. Lean (issue 14, Deliver 6): the containers a ref
    rarely needs (borrowers, lends, contained refs) are created on first use."""

    __slots__ = ("owned", "owner", "local", "submitted", "borrowers", "contained_in", "lent",
                 "contains", "in_store_node", "registered")

    def __init__(self, owned: bool, owner: pb.Address | None) -> None:
        self.owned = owned
        self.owner = owner
        self.local = 0
        self.submitted = 0
        self.borrowers: set[bytes] | None = None
        self.contained_in = 0
        # (caller worker id, lender worker id) -> refs in flight; caller b"": one that does not
        # acknowledge; lender b"": this process (its own objects) or an executor that did not say.
        self.lent: dict[tuple[bytes, bytes], int] | None = None
        self.contains: list[bytes] | None = None
        self.in_store_node = b""
        self.registered = False

    def alive(self) -> bool:
        return bool(self.local or self.submitted or self.borrowers or self.contained_in or self.lent)


class ReferenceCounter:
    """Counts references and reports objects to free or borrows to return.

    `on_free(oid, in_store_node)` is called for an owned object whose counts
    reached zero; `on_borrow_change(owner, added, removed, lent=(), acked=(),
    borrower=None)` for borrow registrations, lends on a caller's behalf
    (``borrower``) and acknowledgements of lends. Both are called outside the lock, on whatever thread made
    the last change: they must only schedule work.
    """

    def __init__(self, on_free: Callable[[bytes, bytes], None],
                 on_borrow_change: Callable[..., None],
                 on_first_holder: Callable[[], None] | None = None) -> None:
        # Reentrant: the garbage collector can run inside a locked section and
        # finalize an ObjectRef, whose __del__ calls remove_local on this thread.
        self._lock = threading.RLock()
        self._refs: dict[bytes, _Ref] = {}
        self._on_free = on_free
        self._on_borrow_change = on_borrow_change
        # Other processes that borrow or are lent owned objects here:
        # worker id -> [records (object, process), address or None].
        self._holders: dict[bytes, list] = {}
        self._on_first_holder = on_first_holder

    # -- owned objects -------------------------------------------------------
    def add_owned(self, oid: bytes, contains: list[bytes] | None = None) -> None:
        """Register an object this process owns (a put or a task return), before any ObjectRef exists."""
        with self._lock:
            r = self._refs.get(oid)
            if r is None:
                r = self._refs[oid] = _Ref(True, None)
            if contains:
                self._set_contains_locked(r, contains)

    def add_owned_local(self, oids: list[bytes]) -> None:
        """Register owned objects (task returns) and one local ObjectRef to each (add_owned + add_local)."""
        with self._lock:
            refs = self._refs
            for oid in oids:
                r = refs.get(oid)
                if r is None:
                    r = refs[oid] = _Ref(True, None)
                r.local += 1

    def set_contains(self, oid: bytes, contains: list[bytes]) -> None:
        """Record the owned objects nested inside oid's value (kept alive with it)."""
        with self._lock:
            r = self._refs.get(oid)
            if r is not None and contains:
                self._set_contains_locked(r, contains)

    def _set_contains_locked(self, r: _Ref, contains: list[bytes]) -> None:
        for c in contains:
            inner = self._refs.get(c)
            if inner is not None:
                inner.contained_in += 1
                if r.contains is None:
                    r.contains = []
                r.contains.append(c)

    def set_in_store(self, oid: bytes, node_id: bytes) -> None:
        with self._lock:
            r = self._refs.get(oid)
            if r is not None:
                r.in_store_node = node_id

    def is_owned(self, oid: bytes) -> bool:
        r = self._refs.get(oid)
        return r is not None and r.owned

    def is_borrow_registered(self, oid: bytes) -> bool:
        """A borrowed object held here whose "added" to its owner was decided (lock-free read)."""
        r = self._refs.get(oid)
        return r is not None and not r.owned and r.registered and r.alive()

    # -- local references ----------------------------------------------------
    def add_local(self, oid: bytes, owner: pb.Address | None) -> None:
        """A new ObjectRef instance; owner None means this process owns it."""
        register = False
        with self._lock:
            r = self._refs.get(oid)
            if r is None:
                r = self._refs[oid] = _Ref(owner is None, owner)
            if not r.owned and not r.registered:
                r.registered = True
                register = True
            r.local += 1
        if register and owner is not None:
            self._on_borrow_change(owner, [oid], [])

    def remove_local(self, oid: bytes) -> None:
        with self._lock:
            r = self._refs.get(oid)
            if r is None:
                return
            r.local -= 1
            if r.local or r.submitted or r.borrowers or r.contained_in or r.lent:
                return  # still alive (the common case: no action)
            actions = self._maybe_release_locked(oid, r)
        self._run(actions)

    # -- task arguments ------------------------------------------------------
    def add_submitted(self, oids: list[bytes]) -> None:
        with self._lock:
            for oid in oids:
                r = self._refs.get(oid)
                if r is not None:
                    r.submitted += 1

    def remove_submitted(self, oids: list[bytes]) -> None:
        actions: list = []
        with self._lock:
            for oid in oids:
                r = self._refs.get(oid)
                if r is not None:
                    r.submitted -= 1
                    actions += self._maybe_release_locked(oid, r)
        self._run(actions)

    # -- borrowers and lends -------------------------------------------------------
    def add_lent(self, oids: list[bytes], caller: bytes = b"", address: pb.Address | None = None) -> None:
        """Owned refs travelling inside a return value to ``caller`` (b"": a
        caller that does not acknowledge; its first "added" releases the lend)."""
        with self._lock:
            self._lend_locked(oids, caller, address, None)

    def lend(self, refs: list[pb.ObjectRef], caller: pb.Address, self_id: bytes, acknowledged: bool) -> None:
        """(Executor.) Refs nested in a return to ``caller``: held for it until it acknowledges.

        Owned ones are lent here; with ``acknowledged`` (a caller that
        acknowledges), the owners of the others are sent a lend naming this
        process as its lender, which the BorrowTracker delivers before the
        result goes out."""
        owned = [r.object_id for r in refs if r.owner.worker_id == self_id]
        if owned:
            self.add_lent(owned, caller.worker_id if acknowledged else b"", caller if acknowledged else None)
        if not acknowledged:
            return
        by_owner: dict[bytes, tuple[pb.Address, list]] = {}
        for r in refs:
            if r.owner.worker_id != self_id:
                by_owner.setdefault(r.owner.worker_id, (r.owner, []))[1].append(r.object_id)
        for owner, oids in by_owner.values():
            self._on_borrow_change(owner, [], [], lent=oids, borrower=caller)

    def ack_returned(self, refs: list[pb.ObjectRef], self_id: bytes, lender: bytes = b"") -> None:
        """(Caller.) Acknowledge the lends of the refs of a return it received,
        after taking its own hold on them (or deciding not to). ``lender``: the
        executor the return came from (``ReturnObject.lender``; b"" unknown)."""
        mine = [r.object_id for r in refs if r.owner.worker_id == self_id]
        if mine:
            self.update_borrowers(self_id, [], [], acked=mine, acked_lenders=[lender] * len(mine))
        by_owner: dict[bytes, tuple[pb.Address, list]] = {}
        for r in refs:
            if r.owner.worker_id != self_id:
                by_owner.setdefault(r.owner.worker_id, (r.owner, []))[1].append(r.object_id)
        for owner, oids in by_owner.values():
            self._on_borrow_change(owner, [], [], acked=oids, lender=lender)

    def update_borrowers(self, borrower: bytes, added: list[bytes], removed: list[bytes],
                         lent: list[bytes] | tuple = (), acked: list[bytes] | tuple = (),
                         address: pb.Address | None = None, lender: pb.Address | None = None,
                         acked_lenders: list[bytes] | tuple = ()) -> None:
        """(Owner.) One UpdateBorrows: ``added`` and ``lent`` first, then ``removed`` and ``acked``.
        ``address`` is the borrower's (watched for its death while it holds anything here);
        ``lender`` the executor that sent ``lent`` (watched likewise while its lends
        are unacknowledged); ``acked_lenders[i]`` the executor whose return carried
        ``acked[i]`` (missing or b"": not known)."""
        actions: list = []
        with self._lock:
            refs = self._refs
            for oid in added:
                r = refs.get(oid)
                if r is not None and r.owned:
                    if r.borrowers is None:
                        r.borrowers = set()
                    if borrower not in r.borrowers:
                        r.borrowers.add(borrower)
                        self._hold_locked(borrower, address)
                    if r.lent and r.lent.get(_UNACKNOWLEDGED):
                        self._unlend_locked(r, _UNACKNOWLEDGED)
            if lent:
                self._lend_locked(lent, borrower, address, lender)
            for oid in removed:
                r = refs.get(oid)
                if r is not None and r.owned and r.borrowers and borrower in r.borrowers:
                    r.borrowers.discard(borrower)
                    self._unhold_locked(borrower)
                    if not r.borrowers:
                        r.borrowers = None
                    actions += self._maybe_release_locked(oid, r)
            n_lenders = len(acked_lenders)
            for i, oid in enumerate(acked):
                r = refs.get(oid)
                if r is not None and r.owned and r.lent:
                    key = _ack_key(r.lent, borrower, acked_lenders[i] if i < n_lenders else b"")
                    if key is not None:
                        self._unlend_locked(r, key)
                        actions += self._maybe_release_locked(oid, r)
        self._run(actions)

    def _lend_locked(self, oids: list[bytes] | tuple, caller: bytes, address: pb.Address | None,
                     lender: pb.Address | None) -> None:
        lender_id = lender.worker_id if lender is not None else b""
        key = (caller, lender_id)
        for oid in oids:
            r = self._refs.get(oid)
            if r is not None and r.owned:
                lent = r.lent
                if lent is None:
                    lent = r.lent = {}
                n = lent.get(key, 0)
                lent[key] = n + 1
                if not n:
                    if caller:
                        self._hold_locked(caller, address)
                    if lender_id:
                        self._hold_locked(lender_id, lender)

    def _unlend_locked(self, r: _Ref, key: tuple[bytes, bytes]) -> None:
        lent = r.lent
        assert lent is not None
        n = lent[key] - 1
        if n:
            lent[key] = n
        else:
            del lent[key]
            self._unhold_pair_locked(key, b"")
            if not lent:
                r.lent = None

    def _unhold_pair_locked(self, key: tuple[bytes, bytes], gone: bytes) -> None:
        """A lend entry went: its caller and lender hold one record less (but ``gone``, already forgotten)."""
        caller, lender = key
        if caller and caller != gone:
            self._unhold_locked(caller)
        if lender and lender != gone:
            self._unhold_locked(lender)

    def _hold_locked(self, holder: bytes, address: pb.Address | None) -> None:
        h = self._holders.get(holder)
        if h is None:
            first = not self._holders
            if address is not None:
                address = pb.Address(worker_id=address.worker_id, node_id=address.node_id)
            self._holders[holder] = [1, address]
            if first and self._on_first_holder is not None:
                self._on_first_holder()  # only schedules (thread-safe)
        else:
            h[0] += 1
            if h[1] is None and address is not None:
                h[1] = pb.Address(worker_id=address.worker_id, node_id=address.node_id)

    def _unhold_locked(self, holder: bytes) -> None:
        h = self._holders.get(holder)
        if h is not None:
            h[0] -= 1
            if h[0] <= 0:
                del self._holders[holder]

    def holders(self) -> list[tuple[bytes, pb.Address | None]]:
        """The other processes that borrow or are lent something owned here
        (worker id, address if known): those whose death must be watched."""
        with self._lock:
            return [(w, h[1]) for w, h in self._holders.items()]

    def drop_borrower(self, borrower: bytes) -> None:
        """A borrower process died: it holds nothing any more, nothing is lent
        to it, and the lends it made as an executor that its callers have not
        acknowledged are released (their results never reached them)."""
        actions: list = []
        with self._lock:
            self._holders.pop(borrower, None)
            for oid, r in list(self._refs.items()):
                hit = False
                if r.borrowers and borrower in r.borrowers:
                    r.borrowers.discard(borrower)
                    if not r.borrowers:
                        r.borrowers = None
                    hit = True
                lent = r.lent
                if lent:
                    for key in [k for k in lent if borrower in k]:
                        del lent[key]
                        self._unhold_pair_locked(key, borrower)
                        hit = True
                    if not lent:
                        r.lent = None
                if hit:
                    actions += self._maybe_release_locked(oid, r)
        self._run(actions)

    # -- internals -----------------------------------------------------------
    def _maybe_release_locked(self, oid: bytes, r: _Ref) -> list:
        if r.alive():
            return []
        del self._refs[oid]
        actions: list = []
        if r.owned:
            actions.append(("free", oid, r.in_store_node))
            for c in r.contains or ():
                inner = self._refs.get(c)
                if inner is not None:
                    inner.contained_in -= 1
                    actions += self._maybe_release_locked(c, inner)
        elif r.registered and r.owner is not None:
            actions.append(("unborrow", r.owner, oid))
        return actions

    def _run(self, actions: list) -> None:
        for a in actions:
            if a[0] == "free":
                self._on_free(a[1], a[2])
            else:
                self._on_borrow_change(a[1], [], [a[2]])

    def num_tracked(self) -> int:
        """How many objects are counted here (owned and borrowed)."""
        return len(self._refs)

    def why_not_exit(self) -> str:
        """Why this process must not leave as idle: the owned objects still
        referenced anywhere and the borrowed ones it holds ('' when none)."""
        with self._lock:
            owned = sum(1 for r in self._refs.values() if r.owned)
            borrowed = len(self._refs) - owned
        parts = []
        if owned:
            parts.append(f"owns {owned} object(s) still referenced")
        if borrowed:
            parts.append(f"borrows {borrowed} object(s)")
        return " and ".join(parts)

    def listing(self, after: bytes, limit: int) -> tuple[int, list[tuple[bytes, dict]]]:
        """(State API, GetObjectRefs.) The references counted here whose id
        sorts after ``after``, in id order, at most ``limit``: (how many are
        counted in all, [(object id, counts)]). Counts are copied under the lock."""
        with self._lock:
            refs = self._refs
            total = len(refs)
            ids = heapq.nsmallest(limit, (oid for oid in refs if oid > after)) if limit > 0 else []
            rows = []
            for oid in ids:
                r = refs[oid]
                rows.append((oid, dict(owned=r.owned, owner=r.owner, local=r.local, submitted=r.submitted,
                                       borrowers=sorted(r.borrowers or ()), contained_in=r.contained_in,
                                       lent=sum((r.lent or {}).values()), in_store_node=r.in_store_node)))
        return total, rows

    def snapshot(self, oid: bytes) -> dict | None:
        """The counts of one object, for tests and debugging."""
        r = self._refs.get(oid)
        if r is None:
            return None
        return dict(owned=r.owned, local=r.local, submitted=r.submitted,
                    borrowers=len(r.borrowers or ()), contained_in=r.contained_in,
                    lent=sum((r.lent or {}).values()))
