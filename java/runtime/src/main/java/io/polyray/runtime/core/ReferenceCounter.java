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
 * ({@code containedIn}), and returns carrying it to a caller who has not registered yet
 * ({@code lent}). At zero the owner frees it. A borrowed object registers this process
 * with its owner on its first local reference and unregisters after its last one.
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
  }

  private static final class Ref {
    final boolean owned;
    final Address owner;
    int local;
    int submitted;
    final Set<ByteString> borrowers = new HashSet<>();
    int containedIn;
    int lent;
    final List<ByteString> contains = new ArrayList<>();
    ByteString inStoreNode = ByteString.EMPTY;
    boolean registered;

    Ref(boolean owned, Address owner) {
      this.owned = owned;
      this.owner = owner;
    }

    boolean alive() {
      return local > 0 || submitted > 0 || !borrowers.isEmpty() || containedIn > 0 || lent > 0;
    }
  }

  private final Map<ByteString, Ref> refs = new HashMap<>();
  private final Listener listener;

  ReferenceCounter(Listener listener) {
    this.listener = listener;
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

  /** Owned references travelling inside a return value to a caller. */
  synchronized void addLent(List<ByteString> oids) {
    for (ByteString oid : oids) {
      Ref r = refs.get(oid);
      if (r != null && r.owned) {
        r.lent++;
      }
    }
  }

  /** A borrower registered or let go of owned objects. */
  void updateBorrowers(ByteString borrower, List<ByteString> added, List<ByteString> removed) {
    List<Runnable> actions = new ArrayList<>();
    synchronized (this) {
      for (ByteString oid : added) {
        Ref r = refs.get(oid);
        if (r != null && r.owned) {
          r.borrowers.add(borrower);
          if (r.lent > 0) {
            r.lent--;
          }
        }
      }
      for (ByteString oid : removed) {
        Ref r = refs.get(oid);
        if (r != null && r.owned) {
          r.borrowers.remove(borrower);
          release(oid, r, actions);
        }
      }
    }
    actions.forEach(Runnable::run);
  }

  private void release(ByteString oid, Ref r, List<Runnable> actions) {
    if (r.alive()) {
      return;
    }
    refs.remove(oid);
    if (r.owned) {
      ByteString node = r.inStoreNode;
      actions.add(() -> listener.free(oid, node));
      for (ByteString c : r.contains) {
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
