package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;

/**
 * The nodes known to hold copies of the objects this process owns, beside the primary copy
 * (as the Python owner's {@code OwnedObjects.add_location} and the C++ ReferenceCounter's
 * locations): a node that pulled a copy tells the owner ({@code AddObjectLocation}), and
 * this process records its own pulls. The owner lists them in its GetObject answers, reads
 * from them, and probes every one of them before it recomputes a lost object.
 *
 * <p>Invariants: only owned objects are recorded; an object's locations go when it is
 * freed; nodes are kept in the order they were learnt (a few per object). Thread-safe.
 */
final class ObjectLocations {
  private final Map<ByteString, Set<ByteString>> copies = new ConcurrentHashMap<>();

  /** A copy of {@code oid} lives on {@code node}. */
  void add(ByteString oid, ByteString node) {
    if (node == null || node.isEmpty()) {
      return;
    }
    copies.computeIfAbsent(oid, k -> new CopyOnWriteArraySet<>()).add(node);
  }

  /** Every node known to hold {@code oid}: {@code primary} first (when set), then the others. */
  List<ByteString> of(ByteString oid, ByteString primary) {
    List<ByteString> out = new ArrayList<>();
    if (primary != null && !primary.isEmpty()) {
      out.add(primary);
    }
    Set<ByteString> more = copies.get(oid);
    if (more != null) {
      for (ByteString n : more) {
        if (!out.contains(n)) {
          out.add(n);
        }
      }
    }
    return out;
  }

  /** {@code oid} was freed. */
  void remove(ByteString oid) {
    copies.remove(oid);
  }

  /** Objects with recorded copies (for tests). */
  int size() {
    return copies.size();
  }
}
