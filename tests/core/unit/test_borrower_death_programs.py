"""Dead borrowers, property-tested: the random programs of test_ref_protocol.py
with one process SIGKILLed in the middle (docs/ownership.md, "The reference
protocol", Deaths).

At a random point one of the four simulated processes dies: messages to it
are lost (an update to it counts as answered, a task pushed to it fails, its
results never leave), messages it already sent may still arrive in any
order (so an update from it can land after its owners dropped it), and it
holds nothing any more. Some operations later every live owner runs the
BorrowerWatch's rounds (``drop_borrower`` of a process found dead in two
consecutive rounds, with the updates in flight landing in between), and
again once everything is delivered (the watch repeats while the dead process
is still a holder).
Each program is checked for

* no premature free: no live owner frees what a live process counts, and
  no live process decodes or reads a ref a live owner freed (objects of the
  dead owner are lost, which is allowed: ``OwnerDiedError``; so is a task
  the dead process submitted whose arguments it never registered: an orphan
  that fails unseen);
* no leak: at the end every live process's counter, values and queue are
  empty: what the dead one borrowed, and what was lent to it, is released.

Lends the dead process made, as an executor, to a live caller for a result
it never sent are released too: each lend names its lender
(``UpdateBorrows.lender``), which the owner watches as it watches a
borrower, and drops with it. Before lends named their lender, such lends
were held until the caller died: ``lenders=False`` runs that protocol, whose
programs leak exactly those lends (``forgive_orphans`` releases them as the
caller's acknowledgements would, and then nothing else leaks).

Without the watch's rounds the same programs leak.

A task whose executor dies while running it fails (or is retried) at its
caller, and the caller keeps the task's arguments for a grace of two watch
rounds before it lets go of them (``TaskFinisher.ARGS_GRACE_S``): the
executor may have handed an argument on (a child task, a value another
process read) whose holder's "added" is still on its way. The model releases
those arguments at the watch's next round, after the updates in flight
landed. Released at once instead (the rule before), 2 of 10,000 programs
free such an argument under its live holder (seeds 2635 and 3256).
"""

from __future__ import annotations

import os
import random

import pytest

from .test_ref_protocol import N_PROCS, Net, Proc, Violation


class DProc(Proc):
    def _on_free(self, oid: bytes, node: bytes) -> None:
        for p in self.net.procs:
            if p is not self and p.index not in self.net.dead:
                r = p.rc.snapshot(oid)
                if r is not None:
                    raise Violation(f"{self.index} freed {oid.hex()[:8]} while {p.index} counts it {r}")
        self.net.freed.add(oid)
        self.values.pop(oid, None)
        for ref in self.holds.pop(oid, []):
            self.drop(ref)

    def ref(self, oid: bytes, owner: bytes) -> tuple:
        o = self.net.by_wid[owner]
        if o.index in self.net.dead:  # the owner died: the ref is lost, not freed early
            self.rc.add_local(oid, None if owner == self.wid else o.address)
            return (oid, owner)
        return super().ref(oid, owner)


class DNet(Net):
    def __init__(self, rng: random.Random, grace: bool = True, args_grace: bool = True,
                 lenders: bool = True) -> None:
        super().__init__(rng, True, True, lenders)
        self.grace = grace
        self.args_grace = args_grace
        self.dead: set[int] = set()
        self.orphans: list = []  # (caller, nested refs) of results a dead executor never sent
        self.failed: list = []   # (caller, argument ids) of tasks whose executor died running them
        self.procs = [DProc(self, i, True) for i in range(N_PROCS)]
        self.by_wid = {p.wid: p for p in self.procs}

    def send(self, src: Proc, dst: Proc, kind: str, payload: tuple) -> None:
        if src.index in self.dead:
            return  # a dead process sends nothing more
        if dst.index in self.dead:
            self._lost(src, kind, payload)
            return
        super().send(src, dst, kind, payload)

    def _lost(self, src: Proc, kind: str, payload: tuple) -> None:
        """A message to a dead process: what its sender sees instead."""
        if kind == "borrow":  # the call fails: counts as answered
            key, _, seqs = payload
            src.queue.answered(key, seqs)
            self.pump(src)
        elif kind == "push":  # the task fails: the caller lets go of its arguments
            src.rc.remove_submitted(payload[3])

    def kill(self, p: Proc) -> None:
        self.dead.add(p.index)
        p.handles = []
        for key, q in list(self.channels.items()):
            if key[1] == p.index:
                while q:
                    self._lost(self.procs[key[0]], key[2], q.popleft())
        for item in list(self.results_waiting):
            if item[0] is p:  # results it never sent: the callers' tasks fail
                self.results_waiting.remove(item)
                if item[1].index not in self.dead:
                    self.orphans.append((item[1], item[3]))
                    if self.args_grace:
                        # The caller keeps the arguments for the grace (two
                        # watch rounds): released at the watch's next round,
                        # after the updates in flight landed.
                        self.failed.append((item[1], item[4]))
                    else:  # the rule before: released as the task fails
                        item[1].rc.remove_submitted(item[4])

    def watch_round(self) -> None:
        """Every live owner's BorrowerWatch: a process found dead in two rounds is
        dropped. Between them an interval passes, in which the updates in flight
        land (the grace the second round gives): delivered here first."""
        for _ in range(100_000 if self.grace else 0):
            if not self.deliver_one():
                break
        for caller, arg_ids in self.failed:
            caller.rc.remove_submitted(arg_ids)
        self.failed = []
        for p in self.procs:
            if p.index in self.dead:
                continue
            for w, _ in p.rc.holders():
                if self.by_wid[w].index in self.dead:
                    p.rc.drop_borrower(w)

    def deliver_one(self) -> bool:
        keys = [k for k in self.deliverable() if k[1] not in self.dead]
        for k in list(self.deliverable()):
            if k[1] in self.dead:  # lost on the way
                q = self.channels[k]
                while q:
                    self._lost(self.procs[k[0]], k[2], q.popleft())
        if not keys:
            return self.release_results()
        return super().deliver_one()

    def run_task(self, caller: Proc, q: Proc, ret_id: bytes, top: list, inline: list, arg_ids: list) -> None:
        if any(self.by_wid[owner].index in self.dead for _, owner in top):
            self.results_waiting.append((q, caller, ret_id, [], arg_ids))  # fails: OwnerDiedError
            return
        if caller.index in self.dead and any(oid in self.freed for oid, _ in [*top, *inline]):
            # An orphan (its caller died with the "added" of an argument still
            # unsent, so the owner freed it): it fails resolving its arguments,
            # and nobody is there to see it.
            return
        super().run_task(caller, q, ret_id, top, inline, arg_ids)

    def complete(self, caller: Proc, ret_id: bytes, nested: list, arg_ids: list, lender: bytes = b"") -> None:
        if caller.index not in self.dead:
            super().complete(caller, ret_id, nested, arg_ids, lender)

    def get(self, p: Proc, ref: tuple) -> bool:
        if self.by_wid[ref[1]].index in self.dead:
            return False  # OwnerDiedError
        return super().get(p, ref)


def run_program(seed: int, watch: bool = True, grace: bool = True, ops: int = 40,
                args_grace: bool = True, lenders: bool = True, forgive_orphans: bool = False) -> None:
    rng = random.Random(seed)
    net = DNet(rng, grace, args_grace, lenders)
    procs = net.procs
    kill_at = rng.randrange(ops)
    watch_at = kill_at + rng.randint(0, 10)
    for i in range(ops):
        if i == kill_at:
            net.kill(rng.choice(procs))
        if watch and i == watch_at:
            net.watch_round()
        for _ in range(rng.randint(0, 3)):
            net.deliver_one()
        live = [p for p in procs if p.index not in net.dead]
        p = rng.choice(live)
        roll = rng.random()
        if roll < 0.25 or not p.handles:
            p.handles.append(p.put(rng.sample(p.handles, min(len(p.handles), rng.randint(0, 3)))))
        elif roll < 0.5:
            q = rng.choice([x for x in procs if x is not p])
            top = [r for r in rng.sample(p.handles, min(len(p.handles), rng.randint(0, 2)))
                   if r[0] in net.by_wid[r[1]].values and net.by_wid[r[1]].index not in net.dead]
            inline = rng.sample(p.handles, min(len(p.handles), rng.randint(0, 2)))
            p.handles.append(net.submit(p, q, top, inline))
        elif roll < 0.75:
            net.get(p, rng.choice(p.handles))
        else:
            p.drop(p.handles.pop(rng.randrange(len(p.handles))))
    holders = [(p, r) for p in procs for r in p.handles]
    for p in procs:
        p.handles = []
    rng.shuffle(holders)
    for p, r in holders:
        p.drop(r)
        for _ in range(rng.randint(0, 2)):
            net.deliver_one()
    for _ in range(100):
        for _ in range(100_000):
            if not net.deliver_one():
                break
        if not watch:
            break
        before = sum(len(p.rc.holders()) for p in procs if p.index not in net.dead)
        net.watch_round()  # the watch repeats while a dead process is still a holder
        if before == 0:
            break
    # The leak before lends named their lender: the dead executor's lends for
    # results it never sent, released here as the callers' acknowledgements would.
    for caller, nested in net.orphans if forgive_orphans else ():
        for oid, owner in nested:
            o = net.by_wid[owner]
            if o.index not in net.dead:
                o.rc.update_borrowers(caller.wid, [], [], acked=[oid])
    for _ in range(100_000):
        if not net.deliver_one():
            break
    for p in procs:
        if p.index in net.dead:
            continue
        if p.rc.num_tracked() or p.values or p.holds or not p.queue.idle():
            raise Violation(f"leak on {p.index}: {p.rc.num_tracked()} counted, {len(p.values)} values, "
                            f"queue idle {p.queue.idle()}")


def test_random_programs_with_a_death_free_nothing_held_and_leak_nothing():
    only = os.environ.get("REF_PROTOCOL_SEED")
    seeds = [int(only)] if only else range(1000)
    for seed in seeds:
        try:
            run_program(seed)
        except Violation as e:
            raise AssertionError(f"seed {seed} (REF_PROTOCOL_SEED={seed} reruns it): {e}") from None


def test_without_the_watch_a_dead_processs_borrows_leak():
    leaks = 0
    for seed in range(300):
        try:
            run_program(seed, watch=False)
        except Violation as e:
            assert str(e).startswith("leak"), f"seed {seed}: {e}"
            leaks += 1
    assert leaks > 30, f"only {leaks} of 300 programs leak without the watch"



def test_without_the_grace_round_a_live_holders_ref_is_freed():
    """Dropping a dead process at the first round, while a live process's
    "added" for a ref it got from the dead one is still on its way, frees that
    ref under it (these seeds, found by running 10,000 programs so)."""
    freed_early = []
    for seed in (1227, 2004, 4080, 9578):
        try:
            run_program(seed, grace=False)
        except Violation as e:
            if not str(e).startswith("leak"):
                freed_early.append(seed)
    assert len(freed_early) >= 2, f"only {freed_early} free a held ref without the grace round"


def test_without_the_callers_grace_an_argument_handed_on_by_a_dead_executor_is_freed():
    """A failed task's arguments released as it fails, while the "added" of the
    process the dead executor handed one to is in flight, are freed under that
    process (these seeds, found by running 10,000 programs so); with the
    caller's grace the same programs pass."""
    for seed in (2635, 3256):
        with pytest.raises(Violation, match="freed"):
            run_program(seed, args_grace=False)
        run_program(seed)


def test_without_lenders_a_dead_executors_lends_leak():
    """Lends kept per (object, caller) alone (the protocol before): a dead
    executor's lends for results it never sent leak in some programs, and only
    those (released as acknowledgements would, every program passes); with
    lends naming their lender the same programs pass as they are."""
    n = 1000
    leaked = []
    for seed in range(n):
        try:
            run_program(seed, lenders=False)
        except Violation as e:
            assert str(e).startswith("leak"), f"seed {seed}: {e}"
            leaked.append(seed)
    print(f"lends without their lender: {len(leaked)} of {n} programs with a death leak")
    assert len(leaked) >= 10, f"only {len(leaked)} of {n} programs leak without lenders"
    for seed in leaked:
        run_program(seed, lenders=False, forgive_orphans=True)
        run_program(seed)
