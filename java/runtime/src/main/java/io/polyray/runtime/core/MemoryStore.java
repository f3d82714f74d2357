package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorRecord;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The values this process knows: objects it owns (put values, task returns) and
 * borrowed objects fetched from their owners. An entry is an inline envelope, the node
 * whose shared store holds the object, or an error. Waiters get a future completed when
 * the entry arrives. Thread-safe.
 */
final class MemoryStore {
  /** A known object. Exactly one of envelope, inStoreNode, error is set. */
  static final class Entry {
    final Envelope envelope;
    final ByteString inStoreNode;
    final ErrorRecord error;
    final long size;
    /** References nested in the value, held (counted) while the value is here. */
    final List<Object> nested;
    /**
     * A borrowed stored object: every node its owner named as holding a copy, the primary
     * first (an owned object's copies are in the CoreWorker's ObjectLocations).
     */
    final List<ByteString> locations;

    private Entry(Envelope envelope, ByteString inStoreNode, ErrorRecord error, long size, List<Object> nested,
        List<ByteString> locations) {
      this.envelope = envelope;
      this.inStoreNode = inStoreNode;
      this.error = error;
      this.size = size;
      this.nested = nested == null ? List.of() : nested;
      this.locations = locations == null ? List.of() : locations;
    }

    static Entry value(Envelope env, long size, List<Object> nested) {
      return new Entry(env, null, null, size, nested, null);
    }

    static Entry inStore(ByteString node, long size, List<Object> nested) {
      return new Entry(null, node, null, size, nested, null);
    }

    static Entry inStore(ByteString node, long size, List<Object> nested, List<ByteString> locations) {
      return new Entry(null, node, null, size, nested, List.copyOf(locations));
    }

    static Entry error(ErrorRecord error) {
      return new Entry(null, null, error, 0, null, null);
    }
  }

  private final Map<ByteString, Entry> ready = new ConcurrentHashMap<>();
  private final Map<ByteString, CompletableFuture<Entry>> waiting = new ConcurrentHashMap<>();

  /** Records an object's value (the first one wins) and wakes its waiters. */
  void set(ByteString oid, Entry e) {
    if (ready.putIfAbsent(oid, e) != null) {
      return;
    }
    CompletableFuture<Entry> f = waiting.remove(oid);
    if (f != null) {
      f.complete(e);
    }
  }

  /** The entry, or null when not known yet. */
  Entry getIfReady(ByteString oid) {
    return ready.get(oid);
  }

  /** A future completed with the entry (at once when it is known). */
  CompletableFuture<Entry> future(ByteString oid) {
    Entry e = ready.get(oid);
    if (e != null) {
      return CompletableFuture.completedFuture(e);
    }
    CompletableFuture<Entry> f = waiting.computeIfAbsent(oid, k -> new CompletableFuture<>());
    e = ready.get(oid); // set() may have run between the two lookups
    if (e != null) {
      waiting.remove(oid, f);
      f.complete(e);
    }
    return f;
  }

  /** Whether the object has an entry or a waiter. */
  boolean contains(ByteString oid) {
    return ready.containsKey(oid) || waiting.containsKey(oid);
  }

  /** Forgets an object (freed). Waiters, if any, keep waiting for a later set. */
  void delete(ByteString oid) {
    ready.remove(oid);
  }

  /** Forgets an object if its entry is still {@code expected} (a lost copy, asked for again). */
  boolean delete(ByteString oid, Entry expected) {
    return ready.remove(oid, expected);
  }

  /** Ends every wait with {@code error} (shutdown: nothing will complete them any more). */
  void failWaiters(ErrorRecord error) {
    Entry e = Entry.error(error);
    for (ByteString oid : List.copyOf(waiting.keySet())) {
      CompletableFuture<Entry> f = waiting.remove(oid);
      if (f != null) {
        f.complete(e);
      }
    }
  }

  /** How many values are known (for tests). */
  int size() {
    return ready.size();
  }
}
