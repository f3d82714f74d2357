package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.codec.StoredEnvelope;
import io.polyray.runtime.proto.Format;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * Early reads of borrowed values (docs/ownership.md, "Early reads"; issue 14), as the Python
 * getter: a get of {@link #MIN_REFS} or more borrowed refs that are not ready here, after
 * queueing their ids on their owners, copies the plain values (XLANG msgpack data, no ext
 * type, no out-of-band buffer: no user code runs, no ref is deserialized) that this node's
 * store holds now. A copy is returned only for an id whose owner then answers "stored"; for
 * any other answer (error, lost, not owned, owner unreachable) it is dropped. The owner's
 * answer decides, never the presence of a copy.
 *
 * <p>Before that, local reads (docs/ownership.md, "Local reads"; as Python and Ray): a borrowed
 * ref whose borrow is registered and whose owner is not known dead ({@link OwnerWatch}) takes
 * the copy sealed in this node's store at once, with no call to the owner
 * ({@link #toReadLocally}); only the rest is asked of the owners (and copied early).
 */
public final class EarlyReads {
  /** A get of at least this many borrowed refs not ready here copies early (Python's EARLY_READ_MIN). */
  static final int MIN_REFS = 8;
  /** Ids pinned and read with one store call. */
  static final int STORE_READ_BATCH = 256;

  private static final AtomicLong COPIED = new AtomicLong();
  private static final AtomicLong RETURNED = new AtomicLong();

  private EarlyReads() {}

  /** Local reads on (POLYRAY_LOCAL_READS=0: every borrowed get waits for its owner, as before). */
  static final boolean LOCAL_READS = !"0".equals(System.getenv("POLYRAY_LOCAL_READS"));

  /** What a get does with a borrowed ref that is not ready here. */
  enum Decision {
    /** Take the copy sealed in this node's store now, without the owner's answer (local reads). */
    READ_LOCAL,
    /** Wait for the owner's answer and read after it. */
    ASK_OWNER,
    /** Ask the owner and copy a plain local value meanwhile; the answer decides. */
    COPY_EARLY
  }

  /** A copy sealed in this node's store, pinned until {@link #close()}. */
  interface Held extends AutoCloseable {
    ByteBuffer metadata();

    ByteBuffer data();

    @Override
    void close();
  }

  /** This node's store, read without waiting. */
  interface LocalStore {
    /** One entry per id, in order: the pinned copy, or null when none is sealed here now. */
    List<? extends Held> getNow(List<ByteString> ids);
  }

  /**
   * The decision for one ref of a get.
   *
   * @param borrowed the ref has an owner other than this process
   * @param borrowedInGet how many distinct borrowed refs of the get are not ready here
   */
  static Decision decide(boolean borrowed, int borrowedInGet) {
    return borrowed && borrowedInGet >= MIN_REFS ? Decision.COPY_EARLY : Decision.ASK_OWNER;
  }

  /** What this process knows of a ref for the local-read decision. */
  interface Facts {
    boolean ready(ByteString oid);

    boolean owned(ByteString oid);

    boolean registered(ByteString oid);

    boolean ownerDead(ByteString workerId);
  }

  /**
   * The refs of a get that take the local copy (when this node's store holds one now): the
   * indexes of each id, in first-seen order. A ref qualifies when it is not ready here and
   * {@link OwnerWatch#readsLocally} holds; the rest is asked of its owner.
   */
  static Map<ByteString, List<Integer>> toReadLocally(List<io.polyray.runtime.proto.ObjectRef> refs, Facts facts) {
    Map<ByteString, List<Integer>> at = new java.util.LinkedHashMap<>();
    for (int i = 0; i < refs.size(); i++) {
      io.polyray.runtime.proto.ObjectRef r = refs.get(i);
      ByteString oid = r.getObjectId();
      boolean hasOwner = r.hasOwner() && !r.getOwner().getWorkerId().isEmpty();
      if (!hasOwner || facts.ready(oid)) {
        continue;
      }
      List<Integer> seen = at.get(oid);
      if (seen != null) {
        seen.add(i);
        continue;
      }
      if (OwnerWatch.readsLocally(true, facts.owned(oid), facts.registered(oid),
          facts.ownerDead(r.getOwner().getWorkerId()))) {
        List<Integer> idx = new ArrayList<>(1);
        idx.add(i);
        at.put(oid, idx);
      }
    }
    return at;
  }

  /**
   * The ids to copy early among refs a get waits for: the distinct ones with an owner that
   * this process does not own, when they are at least {@link #MIN_REFS}; else none.
   */
  static List<ByteString> toCopy(List<io.polyray.runtime.proto.ObjectRef> waiting, Predicate<ByteString> owned) {
    Set<ByteString> ids = new LinkedHashSet<>();
    for (io.polyray.runtime.proto.ObjectRef r : waiting) {
      ByteString oid = r.getObjectId();
      if (r.hasOwner() && !r.getOwner().getWorkerId().isEmpty() && !owned.test(oid)) {
        ids.add(oid);
      }
    }
    if (decide(true, ids.size()) != Decision.COPY_EARLY) {
      return List.of();
    }
    return new ArrayList<>(ids);
  }

  /**
   * Copies the plain values of {@code ids} that {@code store} holds now, by id; each pin is
   * held only while its value is copied. A store that cannot be read (closed) leaves the
   * rest to be read after the answers.
   */
  static Map<ByteString, Object> copy(List<ByteString> ids, LocalStore store, Codec codec) {
    Map<ByteString, Object> out = new HashMap<>();
    for (int k = 0; k < ids.size(); k += STORE_READ_BATCH) {
      List<ByteString> chunk = ids.subList(k, Math.min(ids.size(), k + STORE_READ_BATCH));
      List<? extends Held> views;
      try {
        views = store.getNow(chunk);
      } catch (RuntimeException e) {
        return out;
      }
      for (int i = 0; i < chunk.size(); i++) {
        Held view = views.get(i);
        if (view == null) {
          continue;
        }
        try {
          Object v = plainValue(view, codec);
          if (v != NOT_PLAIN) {
            out.put(chunk.get(i), v);
          }
        } finally {
          view.close();
        }
      }
    }
    COPIED.addAndGet(out.size());
    return out;
  }

  /** Marks a value that is not read early. */
  static final Object NOT_PLAIN = new Object();

  /** The value of a stored XLANG envelope of plain msgpack data (a full copy), else NOT_PLAIN. */
  static Object plainValue(Held view, Codec codec) {
    StoredEnvelope stored;
    try {
      stored = StoreLayout.unpack(view.metadata(), view.data());
    } catch (RuntimeException e) {
      return NOT_PLAIN; // read after the answer, which reports it
    }
    if (stored.format() != Format.FORMAT_XLANG || !stored.buffers().isEmpty() || !isPlain(stored.body())) {
      return NOT_PLAIN;
    }
    try {
      return codec.decode(stored.format(), stored.body(), stored.buffers(), false, null);
    } catch (IllegalArgumentException e) {
      return NOT_PLAIN;
    }
  }

  /** Counts a copy returned for an owner's "stored" answer. */
  static void returned() {
    RETURNED.incrementAndGet();
  }

  /** Values copied early by this process so far (a diagnostic for tests). */
  public static long copiedTotal() {
    return COPIED.get();
  }

  /** Copies returned by gets after their owners answered "stored" (a diagnostic for tests). */
  public static long returnedTotal() {
    return RETURNED.get();
  }

  /**
   * Whether {@code body} is one well-formed msgpack value with no ext type anywhere (walked
   * without recursion: a count of the values still to read).
   */
  static boolean isPlain(ByteBuffer body) {
    ByteBuffer in = body.duplicate().order(ByteOrder.BIG_ENDIAN);
    int pos = in.position();
    int limit = in.limit();
    long pending = 1;
    while (pending > 0) {
      if (pos >= limit) {
        return false;
      }
      int b = in.get(pos++) & 0xff;
      pending--;
      long skip = 0;
      if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        skip = 0;
      } else if (b >= 0xa0 && b <= 0xbf) {
        skip = b & 0x1f;
      } else if (b >= 0x90 && b <= 0x9f) {
        pending += b & 0x0f;
      } else if (b >= 0x80 && b <= 0x8f) {
        pending += 2L * (b & 0x0f);
      } else {
        int lenBytes;
        switch (b) {
          case 0xc4: case 0xd9: lenBytes = 1; break;
          case 0xc5: case 0xda: lenBytes = 2; break;
          case 0xc6: case 0xdb: lenBytes = 4; break;
          case 0xdc: case 0xde: lenBytes = -2; break;
          case 0xdd: case 0xdf: lenBytes = -4; break;
          case 0xca: skip = 4; lenBytes = 0; break;
          case 0xcb: skip = 8; lenBytes = 0; break;
          case 0xcc: case 0xd0: skip = 1; lenBytes = 0; break;
          case 0xcd: case 0xd1: skip = 2; lenBytes = 0; break;
          case 0xce: case 0xd2: skip = 4; lenBytes = 0; break;
          case 0xcf: case 0xd3: skip = 8; lenBytes = 0; break;
          default:
            return false; // ext (0xc7-0xc9, 0xd4-0xd8) or never used (0xc1)
        }
        int n = Math.abs(lenBytes);
        if (n > 0) {
          if (limit - pos < n) {
            return false;
          }
          long len = n == 1 ? in.get(pos) & 0xff : n == 2 ? in.getShort(pos) & 0xffff : in.getInt(pos) & 0xffffffffL;
          pos += n;
          if (lenBytes > 0) {
            skip = len;
          } else if (b == 0xdc || b == 0xdd) {
            pending += len;
          } else {
            pending += 2 * len;
          }
        }
      }
      if (skip > limit - pos) {
        return false;
      }
      pos += (int) skip;
    }
    return pos == limit;
  }
}
