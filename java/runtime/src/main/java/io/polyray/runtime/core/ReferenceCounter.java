package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reference counts of the objects this process owns or borrows (docs/protocol.md §7.4,
 * §7.5; the same rules as python/polyray/core/reference_counter.py).
 *
 * <p>An owned object stays alive while any count is non-zero: live {@code ObjectRef}
 * instances here ({@code local}, dropped by a Cleaner when an instance becomes
 * unreachable), submitted tasks that take it as an argument ({@code submitted}), other
 * processes that borrow it ({@code borrowers}), owned objects whose value contains it
 * ({@code containedIn}), and returns carrying it to a caller who has not acknowledged it
 * yet ({@code lent}, per caller). At zero the owner frees it. A borrowed object registers
 * this process with its owner on its first local reference and unregisters after its last
 * one.
 *
 * <p>The reference protocol (docs/ownership.md): a ref travelling to a caller inside a
 * task's return is held on that caller's behalf ({@code lent[(caller, lender)]}) until the
 * caller acknowledges it ({@code lent_received}, naming the executor the return came from)
 * after taking its own hold; callers that do not acknowledge are lent under the empty key
 * and released by their first "added". A lender (the executor that sent a lend) is watched
 * like a borrower: when it dies, its lends the caller has not acknowledged are released. The
 * owner's own lends name no lender. Containers a ref rarely needs are created on first use
 * (lean refs).
 *
 * <p>Dead holders (docs/ownership.md, "The reference protocol", Deaths): the counter keeps,
 * per other process that borrows or is lent something here, how many (object, process)
 * records it has and its address ({@link #holders}); the {@link BorrowerWatch} asks the GCS
 * about them while any exist and calls {@link #dropBorrower} for each dead one.
 *
 * <p>One lock guards the counts; the actions a change causes (RPCs) are handed to the
 * listener outside the lock, which must only schedule work.
 */
final class ReferenceCounter {
  /** What the counter asks its CoreWorker to do. */
  interface Listener {
    /** An owned object's counts reached zero. */
    void free(ByteString oid, ByteString inStoreNode);

    /** Register ({@code added}) or unregister ({@code removed}) borrows with an owner. */
    void borrowChanged(Address owner, List<ByteString> added, List<ByteString> removed);

    /**
     * Acknowledge lends of refs received in a task's return ({@code lent_received}), made by
     * {@code lender} (the executor's worker id; empty when not known).
     */
    default void lentReceived(Address owner, List<ByteString> oids, ByteString lender) {}

    /**
     * The first holder (another process borrowing or lent something here) appeared: start
     * watching for holders' deaths ({@link BorrowerWatch#start}).
     */
    default void firstHolder() {}
  }

  /** Another process that borrows or is lent owned objects here. */
  private static final class Holder {
    int records; // (object, holder) pairs: a borrow or a caller's lend entry
    Address address;
  }

  private static final class Ref {
    final boolean owned;
    final Address owner;
    int local;
    int submitted;
    Set<ByteString> borrowers; // created on first use
    int containedIn;
    // (caller, lender) -> refs in flight; caller empty: one that does not acknowledge;
    // lender empty: this process's own objects, or an executor that did not say.
    Map<LendKey, Integer> lent;
    List<ByteString> contains;
    ByteString inStoreNode = ByteString.EMPTY;
    boolean registered;

    Ref(boolean owned, Address owner) {
      this.owned = owned;
      this.owner = owner;
    }

    boolean alive() {
      return local > 0 || submitted > 0 || (borrowers != null && !borrowers.isEmpty()) || containedIn > 0
          || (lent != null && !lent.isEmpty());
    }
  }

  /** A lend's caller and lender (worker ids, either may be empty). */
  record LendKey(ByteString caller, ByteString lender) {
    boolean involves(ByteString worker) {
      return caller.equals(worker) || lender.equals(worker);
    }
  }

  private static final LendKey UNACKNOWLEDGED = new LendKey(ByteString.EMPTY, ByteString.EMPTY);

  private final Map<ByteString, Ref> refs = new HashMap<>();
  private final Map<ByteString, Holder> holders = new HashMap<>();
  private final Listener listener;

  ReferenceCounter(Listener listener) {
    this.listener = listener;
  }

  /** One object's counts, copied for the state API (GetObjectRefs). */
  static final class RefRow {
    final ByteString oid;
    final boolean owned;
    final Address owner;
    final int local;
    final int submitted;
    final List<ByteString> borrowers;
    final int containedIn;
    final int lent;
    final ByteString inStoreNode;

    private RefRow(ByteString oid, Ref r) {
      this.oid = oid;
      this.owned = r.owned;
      this.owner = r.owner;
      this.local = r.local;
      this.submitted = r.submitted;
      List<ByteString> b = r.borrowers == null ? new ArrayList<>() : new ArrayList<>(r.borrowers);
      b.sort(ReferenceCounter::compareIds);
      this.borrowers = b;
      this.containedIn = r.containedIn;
      int n = 0;
      if (r.lent != null) {
        for (int v : r.lent.values()) {
          n += v;
        }
      }
      this.lent = n;
      this.inStoreNode = r.inStoreNode;
    }
  }

  /** Object ids compare as unsigned bytes (the order of Python's and C++'s listings). */
  static int compareIds(ByteString a, ByteString b) {
    int n = Math.min(a.size(), b.size());
    for (int i = 0; i < n; i++) {
      int d = (a.byteAt(i) & 0xff) - (b.byteAt(i) & 0xff);
      if (d != 0) {
        return d;
      }
    }
    return a.size() - b.size();
  }

  /**
   * (State API, GetObjectRefs.) The references counted here whose id sorts after
   * {@code after}, in id order, at most {@code limit}, into {@code out}; returns how many
   * are counted in all. The counts are copied under the lock.
   */
  synchronized int listing(ByteString after, int limit, List<RefRow> out) {
    List<ByteString> ids = new ArrayList<>();
    for (ByteString oid : refs.keySet()) {
      if (compareIds(oid, after) > 0) {
        ids.add(oid);
      }
    }
    ids.sort(ReferenceCounter::compareIds);
    for (int i = 0; i < ids.size() && i < limit; i++) {
      out.add(new RefRow(ids.get(i), refs.get(ids.get(i))));
    }
    return refs.size();
  }

  /** Registers an object this process owns, before any reference to it exists. */
  synchronized void addOwned(ByteString oid) {
    refs.computeIfAbsent(oid, k -> new Ref(true, null));
  }

  /** The owned objects nested in an owned object's value live as long as it does. */
  synchronized void setContains(ByteString oid, List<ByteString> contains) {
    Ref r = refs.get(oid);
    if (r == null) {
      return;
    }
    for (ByteString c : contains) {
      Ref inner = refs.get(c);
      if (inner != null && inner.owned) {
        inner.containedIn++;
        if (r.contains == null) {
          r.contains = new ArrayList<>();
        }
        r.contains.add(c);
      }
    }
  }

  synchronized void setInStore(ByteString oid, ByteString node) {
    Ref r = refs.get(oid);
    if (r != null) {
      r.inStoreNode = node;
    }
  }

  synchronized boolean isOwned(ByteString oid) {
    Ref r = refs.get(oid);
    return r != null && r.owned;
  }

  /** A borrowed object held here whose "added" to its owner was decided (local reads, OwnerWatch). */
  synchronized boolean isBorrowRegistered(ByteString oid) {
    Ref r = refs.get(oid);
    return r != null && !r.owned && r.registered && r.alive();
  }

  /**
   * A new reference instance; {@code owner} null means this process owns the object.
   */
  void addLocal(ByteString oid, Address owner) {
    boolean register = false;
    synchronized (this) {
      Ref r = refs.get(oid);
      if (r == null) {
        r = new Ref(owner == null, owner);
        refs.put(oid, r);
      }
      if (!r.owned && !r.registered) {
        r.registered = true;
        register = true;
      }
      r.local++;
    }
    if (register) {
      listener.borrowChanged(owner, List.of(oid), List.of());
    }
  }

  /** A reference instance became unreachable. */
  void removeLocal(ByteString oid) {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      Ref r = refs.get(oid);
      if (r != null) {
        r.local--;
        release(oid, r, actions);
      }
    }
    actions.forEach(Runnable::run);
  }

  /** Tasks were submitted that take these objects as arguments. */
  synchronized void addSubmitted(List<ByteString> oids) {
    for (ByteString oid : oids) {
      Ref r = refs.get(oid);
      if (r != null) {
        r.submitted++;
      }
    }
  }

  /** Those tasks finished. */
  void removeSubmitted(List<ByteString> oids) {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      for (ByteString oid : oids) {
        Ref r = refs.get(oid);
        if (r != null) {
          r.submitted--;
          release(oid, r, actions);
        }
      }
    }
    actions.forEach(Runnable::run);
  }

  /** Owned references travelling inside a return value to a caller (empty: one that does not acknowledge). */
  void addLent(List<ByteString> oids, ByteString caller) {
    addLent(oids, caller, null);
  }

  /** As {@link #addLent(List, ByteString)}, with the caller's address (its death is watched). */
  void addLent(List<ByteString> oids, ByteString caller, Address callerAddress) {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      lendLocked(oids, caller, callerAddress, null, actions);
    }
    actions.forEach(Runnable::run);
  }

  /** As {@link #addLent(List, ByteString)} for a caller that does not acknowledge. */
  void addLent(List<ByteString> oids) {
    addLent(oids, ByteString.EMPTY);
  }

  private void lendLocked(List<ByteString> oids, ByteString caller, Address address, Address lender,
      List<Runnable> actions) {
    ByteString lenderId = lender == null ? ByteString.EMPTY : lender.getWorkerId();
    LendKey key = new LendKey(caller, lenderId);
    for (ByteString oid : oids) {
      Ref r = refs.get(oid);
      if (r != null && r.owned) {
        if (r.lent == null) {
          r.lent = new HashMap<>(2);
        }
        if (r.lent.merge(key, 1, Integer::sum) == 1) {
          if (!caller.isEmpty()) {
            hold(caller, address, actions);
          }
          if (!lenderId.isEmpty()) {
            hold(lenderId, lender, actions);
          }
        }
      }
    }
  }

  private void unlend(Ref r, LendKey key) {
    Integer n = r.lent.get(key);
    if (n == null) {
      return;
    }
    if (n > 1) {
      r.lent.put(key, n - 1);
    } else {
      r.lent.remove(key);
      unholdPair(key, null);
      if (r.lent.isEmpty()) {
        r.lent = null;
      }
    }
  }

  /** A lend entry went: its caller and lender hold one record less (but {@code gone}). */
  private void unholdPair(LendKey key, ByteString gone) {
    if (!key.caller().isEmpty() && !key.caller().equals(gone)) {
      unhold(key.caller());
    }
    if (!key.lender().isEmpty() && !key.lender().equals(gone)) {
      unhold(key.lender());
    }
  }

  /**
   * The lend an acknowledgement from {@code caller} of a return from {@code lender} releases:
   * that lender's; else one made without naming a lender (the owner's own, an older
   * executor's); for an acknowledgement that names no lender, any of the caller's.
   */
  private static LendKey ackKey(Map<LendKey, Integer> lent, ByteString caller, ByteString lender) {
    LendKey key = new LendKey(caller, lender);
    if (lent.containsKey(key)) {
      return key;
    }
    key = new LendKey(caller, ByteString.EMPTY);
    if (lent.containsKey(key)) {
      return key;
    }
    if (lender.isEmpty()) {
      for (LendKey k : lent.keySet()) {
        if (k.caller().equals(caller)) {
          return k;
        }
      }
    }
    return null;
  }

  private void hold(ByteString holder, Address address, List<Runnable> actions) {
    Holder h = holders.get(holder);
    if (h == null) {
      if (holders.isEmpty()) {
        actions.add(listener::firstHolder);
      }
      h = new Holder();
      holders.put(holder, h);
    }
    h.records++;
    if (h.address == null && address != null) {
      h.address = Address.newBuilder().setWorkerId(address.getWorkerId()).setNodeId(address.getNodeId()).build();
    }
  }

  private void unhold(ByteString holder) {
    Holder h = holders.get(holder);
    if (h != null && --h.records <= 0) {
      holders.remove(holder);
    }
  }

  /**
   * The other processes that borrow or are lent something owned here (their addresses;
   * the worker id alone when none was given): those whose death must be watched.
   */
  synchronized List<Address> holders() {
    List<Address> out = new ArrayList<>(holders.size());
    for (Map.Entry<ByteString, Holder> e : holders.entrySet()) {
      Address a = e.getValue().address;
      out.add(a != null ? a : Address.newBuilder().setWorkerId(e.getKey()).build());
    }
    return out;
  }

  /**
   * A borrower (or caller) process died: it holds nothing any more, nothing is lent to it, and
   * the lends it made as an executor that its callers have not acknowledged are released.
   */
  void dropBorrower(ByteString borrower) {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      holders.remove(borrower);
      List<ByteString> hit = new ArrayList<>();
      for (Map.Entry<ByteString, Ref> e : refs.entrySet()) {
        Ref r = e.getValue();
        boolean h = false;
        if (r.borrowers != null && r.borrowers.remove(borrower)) {
          if (r.borrowers.isEmpty()) {
            r.borrowers = null;
          }
          h = true;
        }
        if (r.lent != null) {
          for (java.util.Iterator<LendKey> it = r.lent.keySet().iterator(); it.hasNext(); ) {
            LendKey k = it.next();
            if (k.involves(borrower)) {
              it.remove();
              unholdPair(k, borrower);
              h = true;
            }
          }
          if (r.lent.isEmpty()) {
            r.lent = null;
          }
        }
        if (h) {
          hit.add(e.getKey());
        }
      }
      for (ByteString oid : hit) {
        Ref r = refs.get(oid);
        if (r != null) {
          release(oid, r, actions);
        }
      }
    }
    actions.forEach(Runnable::run);
  }

  /** A borrower registered or let go of owned objects. */
  void updateBorrowers(ByteString borrower, List<ByteString> added, List<ByteString> removed) {
    updateBorrowers(borrower, added, removed, List.of(), List.of());
  }

  /**
   * One UpdateBorrows: {@code added} and {@code lent} (refs an executor sent to {@code
   * borrower} in a return) first, then {@code removed} and {@code lentReceived}.
   */
  void updateBorrowers(ByteString borrower, List<ByteString> added, List<ByteString> removed,
      List<ByteString> lent, List<ByteString> lentReceived) {
    updateBorrowers(borrower, added, removed, lent, lentReceived, null);
  }

  /** As above, with the borrower's address (its death is watched while it holds anything here). */
  void updateBorrowers(ByteString borrower, List<ByteString> added, List<ByteString> removed,
      List<ByteString> lent, List<ByteString> lentReceived, Address borrowerAddress) {
    updateBorrowers(borrower, added, removed, lent, lentReceived, borrowerAddress, null, List.of());
  }

  /**
   * As above, with the executor that sent {@code lent} ({@code lender}, watched like a
   * borrower while its lends are unacknowledged; null: not named) and, for each of {@code
   * lentReceived}, the worker id of the executor whose return carried it ({@code
   * ackLenders}; missing or empty: not known).
   */
  void updateBorrowers(ByteString borrower, List<ByteString> added, List<ByteString> removed,
      List<ByteString> lent, List<ByteString> lentReceived, Address borrowerAddress, Address lender,
      List<ByteString> ackLenders) {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      for (ByteString oid : added) {
        Ref r = refs.get(oid);
        if (r != null && r.owned) {
          if (r.borrowers == null) {
            r.borrowers = new HashSet<>(2);
          }
          if (r.borrowers.add(borrower)) {
            hold(borrower, borrowerAddress, actions);
          }
          if (r.lent != null) {
            unlend(r, UNACKNOWLEDGED);
          }
        }
      }
      if (!lent.isEmpty()) {
        lendLocked(lent, borrower, borrowerAddress, lender, actions);
      }
      for (ByteString oid : removed) {
        Ref r = refs.get(oid);
        if (r != null && r.owned && r.borrowers != null) {
          if (r.borrowers.remove(borrower)) {
            unhold(borrower);
          }
          if (r.borrowers.isEmpty()) {
            r.borrowers = null;
          }
          release(oid, r, actions);
        }
      }
      for (int i = 0; i < lentReceived.size(); i++) {
        ByteString oid = lentReceived.get(i);
        Ref r = refs.get(oid);
        if (r != null && r.owned && r.lent != null) {
          LendKey key = ackKey(r.lent, borrower, i < ackLenders.size() ? ackLenders.get(i) : ByteString.EMPTY);
          if (key != null) {
            unlend(r, key);
            release(oid, r, actions);
          }
        }
      }
    }
    actions.forEach(Runnable::run);
  }

  /**
   * (Caller.) Acknowledges the lends of the refs of a return it received, after taking its
   * own hold on them (or deciding not to).
   */
  void ackReturned(List<io.polyray.runtime.proto.ObjectRef> nested, ByteString selfId) {
    ackReturned(nested, selfId, ByteString.EMPTY);
  }

  /** As above, for a return from {@code lender} (its {@code ReturnObject.lender}). */
  void ackReturned(List<io.polyray.runtime.proto.ObjectRef> nested, ByteString selfId, ByteString lender) {
    List<ByteString> mine = new ArrayList<>();
    Map<ByteString, List<ByteString>> byOwner = new java.util.LinkedHashMap<>();
    Map<ByteString, Address> owners = new HashMap<>();
    for (io.polyray.runtime.proto.ObjectRef r : nested) {
      ByteString owner = r.getOwner().getWorkerId();
      if (owner.equals(selfId)) {
        mine.add(r.getObjectId());
      } else {
        byOwner.computeIfAbsent(owner, k -> new ArrayList<>()).add(r.getObjectId());
        owners.put(owner, r.getOwner());
      }
    }
    if (!mine.isEmpty()) {
      updateBorrowers(selfId, List.of(), List.of(), List.of(), mine, null, null,
          java.util.Collections.nCopies(mine.size(), lender));
    }
    for (Map.Entry<ByteString, List<ByteString>> e : byOwner.entrySet()) {
      listener.lentReceived(owners.get(e.getKey()), e.getValue(), lender);
    }
  }

  private void release(ByteString oid, Ref r, List<Runnable> actions) {
    if (r.alive()) {
      return;
    }
    refs.remove(oid);
    if (r.owned) {
      ByteString node = r.inStoreNode;
      actions.add(() -> listener.free(oid, node));
      for (ByteString c : r.contains == null ? List.<ByteString>of() : r.contains) {
        Ref inner = refs.get(c);
        if (inner != null) {
          inner.containedIn--;
          release(c, inner, actions);
        }
      }
    } else if (r.registered && r.owner != null) {
      Address owner = r.owner;
      actions.add(() -> listener.borrowChanged(owner, List.of(), List.of(oid)));
    }
  }

  /**
   * Why this process must not leave as idle: the owned objects still referenced anywhere
   * and the borrowed ones it holds (empty when none).
   */
  synchronized String whyNotExit() {
    int owned = 0;
    for (Ref r : refs.values()) {
      if (r.owned) {
        owned++;
      }
    }
    int borrowed = refs.size() - owned;
    StringBuilder why = new StringBuilder();
    if (owned > 0) {
      why.append("owns ").append(owned).append(" object(s) still referenced");
    }
    if (borrowed > 0) {
      why.append(why.length() > 0 ? " and " : "").append("borrows ").append(borrowed).append(" object(s)");
    }
    return why.toString();
  }

  /** How many objects are counted (for tests). */
  synchronized int size() {
    return refs.size();
  }

  /** Whether an object is counted at all (for tests). */
  synchronized boolean tracks(ByteString oid) {
    return refs.containsKey(oid);
  }
}
