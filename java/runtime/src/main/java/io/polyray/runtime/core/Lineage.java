package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The lineage an owner keeps: the TaskSpecs that can recompute its stored objects (as
 * python/polyray/core/lineage.py).
 *
 * <p>When a normal task completes and one of its returns lives in a node's store, the
 * owner keeps the task's spec for as long as any of those returns is referenced, so a copy
 * lost with its node can be recomputed by running the task again ({@link ObjectRecovery}).
 * The task's arguments stay counted as submitted while its lineage is kept and are released
 * when it goes.
 *
 * <p>Memory is bounded: the kept specs (encoded size plus 28 bytes per argument and return
 * id) stay under {@code maxBytes} (runtime spec {@code [lineage] max_bytes};
 * {@code POLYRAY_LINEAGE_MAX_BYTES}; {@code PolyRayConfig.setLineageMaxBytes}). Past it the
 * oldest lineage is evicted first; its objects are remembered as evicted until freed, so a
 * later loss raises ObjectLostException with REASON_LINEAGE_EVICTED.
 *
 * <p>Invariants: every argument pin taken by {@link #record} is released exactly once (by
 * eviction, by the last return's free, or at once when the task already had lineage);
 * {@link #bytesUsed} never exceeds the bound after {@code record} returns. Thread-safe; the
 * release callback runs outside the lock.
 */
final class Lineage {
  /** The environment variable that overrides the bound for one process. */
  static final String ENV_MAX_BYTES = "POLYRAY_LINEAGE_MAX_BYTES";

  /** The spec of a task whose stored returns are still referenced. */
  static final class Entry {
    TaskSpec spec;
    final List<ByteString> argIds;
    final long size;
    final Set<ByteString> live;

    Entry(TaskSpec spec, List<ByteString> argIds, long size, Set<ByteString> live) {
      this.spec = spec;
      this.argIds = argIds;
      this.size = size;
      this.live = live;
    }
  }

  final long maxBytes;
  private final Consumer<List<ByteString>> releaseArgs;
  private final LinkedHashMap<ByteString, Entry> entries = new LinkedHashMap<>();
  private final Map<ByteString, ByteString> byObject = new HashMap<>();
  private final Set<ByteString> evicted = new HashSet<>();
  private final Set<ByteString> recovering = new HashSet<>();
  private long bytesUsed;
  private long evictions;

  Lineage(long maxBytes, Consumer<List<ByteString>> releaseArgs) {
    this.maxBytes = maxBytes;
    this.releaseArgs = releaseArgs;
  }

  /**
   * The bound of this process: the environment's, else {@code configured} (negative: none),
   * else the spec's.
   */
  static long maxBytesFromEnv(long configured) {
    String raw = System.getenv(ENV_MAX_BYTES);
    if (raw != null && !raw.isBlank()) {
      long v;
      try {
        v = Long.parseLong(raw.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(ENV_MAX_BYTES + "=" + raw + " is not a whole number of bytes");
      }
      if (v < 0) {
        throw new IllegalArgumentException(ENV_MAX_BYTES + "=" + raw + " must be >= 0");
      }
      return v;
    }
    return configured >= 0 ? configured : RuntimeSpec.LINEAGE_MAX_BYTES;
  }

  /** Whether an object id names a put (bit 31 of its little-endian index). */
  static boolean isPutId(ByteString oid) {
    return oid.size() == 28 && (oid.byteAt(27) & 0x80) != 0;
  }

  /** The return ids of a task. */
  static List<ByteString> returnIds(TaskSpec spec) {
    List<ByteString> out = new ArrayList<>();
    for (int i = 1; i <= spec.getNumReturns(); i++) {
      out.add(io.polyray.runtime.ids.Ids.returnId(spec.getTaskId(), i));
    }
    return out;
  }

  /**
   * Keeps {@code spec} (taking over the pins of {@code argIds}) for {@code storedReturns}. A
   * task that already has lineage (a reconstruction completing) keeps its first entry's pins:
   * the new ones are released.
   */
  void record(TaskSpec spec, List<ByteString> argIds, List<ByteString> storedReturns) {
    List<List<ByteString>> release = new ArrayList<>();
    synchronized (this) {
      Entry old = entries.get(spec.getTaskId());
      if (old != null) {
        old.spec = spec;
        release.add(argIds);
      } else {
        Set<ByteString> live = new HashSet<>(storedReturns);
        long size = spec.getSerializedSize() + 28L * (argIds.size() + live.size());
        entries.put(spec.getTaskId(), new Entry(spec, List.copyOf(argIds), size, live));
        for (ByteString oid : live) {
          byObject.put(oid, spec.getTaskId());
          evicted.remove(oid);
        }
        bytesUsed += size;
        Iterator<Map.Entry<ByteString, Entry>> it = entries.entrySet().iterator();
        while (bytesUsed > maxBytes && it.hasNext()) {
          Entry victim = it.next().getValue();
          it.remove();
          bytesUsed -= victim.size;
          evictions++;
          for (ByteString oid : victim.live) {
            byObject.remove(oid);
            evicted.add(oid);
          }
          release.add(victim.argIds);
        }
      }
    }
    for (List<ByteString> ids : release) {
      if (!ids.isEmpty()) {
        releaseArgs.accept(ids);
      }
    }
  }

  /** An owned object was freed: drop the lineage once none of its task's stored returns is left. */
  void onFree(ByteString oid) {
    List<ByteString> release = null;
    synchronized (this) {
      evicted.remove(oid);
      ByteString tid = byObject.remove(oid);
      if (tid == null) {
        return;
      }
      Entry e = entries.get(tid);
      if (e == null) {
        return;
      }
      e.live.remove(oid);
      if (e.live.isEmpty()) {
        entries.remove(tid);
        bytesUsed -= e.size;
        release = e.argIds;
      }
    }
    if (release != null && !release.isEmpty()) {
      releaseArgs.accept(release);
    }
  }

  /** The lineage of the task that returns {@code oid}, if kept and {@code oid} still live. */
  synchronized Entry ofObject(ByteString oid) {
    ByteString tid = byObject.get(oid);
    return tid == null ? null : entries.get(tid);
  }

  /** Whether {@code oid}'s lineage was evicted to keep the bound (and it is not freed yet). */
  synchronized boolean wasEvicted(ByteString oid) {
    return evicted.contains(oid);
  }

  /** True if no reconstruction of {@code taskId} is under way (and one now is). */
  synchronized boolean beginRecovery(ByteString taskId) {
    return recovering.add(taskId);
  }

  /** The reconstruction of {@code taskId} ended; whether one was under way. */
  synchronized boolean endRecovery(ByteString taskId) {
    return recovering.remove(taskId);
  }

  synchronized boolean recovering(ByteString taskId) {
    return recovering.contains(taskId);
  }

  synchronized long bytesUsed() {
    return bytesUsed;
  }

  synchronized long evictions() {
    return evictions;
  }

  synchronized int size() {
    return entries.size();
  }
}
