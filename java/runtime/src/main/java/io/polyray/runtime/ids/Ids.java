package io.polyray.runtime.ids;

import com.google.protobuf.ByteString;
import io.polyray.runtime.spec.RuntimeSpec;
import java.security.SecureRandom;

/**
 * The protocol's IDs in one place (docs/protocol.md §2): their sizes (the runtime spec's),
 * new random IDs, the derivation of an object's ID from its task's, and hex. IDs are raw
 * bytes ({@link ByteString} in messages); {@link io.polyray.runtime.store.ObjectId} is the
 * store's checked, immutable form of an ObjectID and uses the sizes and hex here.
 *
 * <ul>
 *   <li>JobID: {@link #JOB_BYTES}; a WorkerID ({@link #WORKER_BYTES}) and a NodeID
 *       ({@link #NODE_BYTES}) are random bytes only.
 *   <li>TaskID ({@link #TASK_BYTES}), ActorID ({@link #ACTOR_BYTES}) and PlacementGroupID
 *       ({@link #PLACEMENT_GROUP_BYTES}): random unique bytes, then the JobID.
 *   <li>ObjectID ({@link #OBJECT_BYTES}): TaskID ‖ uint32le(index); index 1..n is the n-th
 *       return, {@code 0x80000000 | n} the n-th object the task put.
 * </ul>
 */
public final class Ids {
  /** Bytes of a JobID. */
  public static final int JOB_BYTES = RuntimeSpec.IDS_JOB_BYTES;
  /** Bytes of a TaskID. */
  public static final int TASK_BYTES = RuntimeSpec.IDS_TASK_BYTES;
  /** Bytes of an ActorID. */
  public static final int ACTOR_BYTES = RuntimeSpec.IDS_ACTOR_BYTES;
  /** Bytes of an ObjectID. */
  public static final int OBJECT_BYTES = RuntimeSpec.IDS_OBJECT_BYTES;
  /** Bytes of a WorkerID. */
  public static final int WORKER_BYTES = RuntimeSpec.IDS_WORKER_BYTES;
  /** Bytes of a NodeID. */
  public static final int NODE_BYTES = RuntimeSpec.IDS_NODE_BYTES;
  /** Bytes of a PlacementGroupID. */
  public static final int PLACEMENT_GROUP_BYTES = RuntimeSpec.IDS_PLACEMENT_GROUP_BYTES;
  /** Unique bytes of a TaskID: the rest is the JobID. */
  public static final int TASK_UNIQUE_BYTES = TASK_BYTES - JOB_BYTES;
  /** Unique bytes of an ActorID: the rest is the JobID. */
  public static final int ACTOR_UNIQUE_BYTES = ACTOR_BYTES - JOB_BYTES;
  /** Bit 31 of an ObjectID's index marks a put object. */
  public static final int PUT_BIT = 0x80000000;

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final char[] DIGITS = "0123456789abcdef".toCharArray();

  private Ids() {}

  /**
   * Random bytes from a CSPRNG.
   *
   * @param n how many
   * @return n random bytes
   */
  public static ByteString random(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return ByteString.copyFrom(b);
  }

  /**
   * A new TaskID of a job: random unique bytes ‖ JobID.
   *
   * @param jobId the JobID
   * @return the TaskID
   */
  public static ByteString taskId(ByteString jobId) {
    return random(TASK_UNIQUE_BYTES).concat(jobId);
  }

  /**
   * A new ActorID of a job: random unique bytes ‖ JobID.
   *
   * @param jobId the JobID
   * @return the ActorID
   */
  public static ByteString actorId(ByteString jobId) {
    return random(ACTOR_UNIQUE_BYTES).concat(jobId);
  }

  /**
   * A new PlacementGroupID of a job: random unique bytes ‖ JobID.
   *
   * @param jobId the JobID
   * @return the PlacementGroupID
   */
  public static ByteString placementGroupId(ByteString jobId) {
    return random(PLACEMENT_GROUP_BYTES - JOB_BYTES).concat(jobId);
  }

  /**
   * A new WorkerID: random bytes only.
   *
   * @return the WorkerID
   */
  public static ByteString workerId() {
    return random(WORKER_BYTES);
  }

  /**
   * The ObjectID of a task's {@code index}-th return: TaskID ‖ uint32le(index).
   *
   * @param taskId the TaskID (another length than {@link #TASK_BYTES} is not refused here,
   *     so an error result can still be built for a malformed task)
   * @param index 1..num_returns (or {@code PUT_BIT | n}, see {@link #putId})
   * @return the ObjectID ({@link #OBJECT_BYTES} for a valid TaskID)
   */
  public static ByteString returnId(ByteString taskId, int index) {
    int n = taskId.size();
    byte[] out = new byte[n + 4];
    taskId.copyTo(out, 0);
    out[n] = (byte) index;
    out[n + 1] = (byte) (index >>> 8);
    out[n + 2] = (byte) (index >>> 16);
    out[n + 3] = (byte) (index >>> 24);
    return ByteString.copyFrom(out);
  }

  /**
   * The ObjectID of the n-th object a task put: TaskID ‖ uint32le(0x80000000 | n).
   *
   * @param taskId the TaskID
   * @param n 1, 2, ...
   * @return the ObjectID
   */
  public static ByteString putId(ByteString taskId, int n) {
    return returnId(taskId, PUT_BIT | n);
  }

  /**
   * The TaskID part of an ObjectID.
   *
   * @param objectId the ObjectID
   * @return its first {@link #TASK_BYTES} bytes
   */
  public static ByteString taskOf(ByteString objectId) {
    return objectId.substring(0, TASK_BYTES);
  }

  /**
   * Lower-case hex of bytes, as the protocol shows IDs.
   *
   * @param b the bytes
   * @return two lower-case digits per byte
   */
  public static String hex(byte[] b) {
    char[] out = new char[b.length * 2];
    for (int i = 0; i < b.length; i++) {
      out[2 * i] = DIGITS[(b[i] >> 4) & 0xf];
      out[2 * i + 1] = DIGITS[b[i] & 0xf];
    }
    return new String(out);
  }

  /**
   * Lower-case hex of an ID.
   *
   * @param id the ID
   * @return two lower-case digits per byte
   */
  public static String hex(ByteString id) {
    return hex(id.toByteArray());
  }

  /**
   * Bytes of hex (either case).
   *
   * @param s an even number of hex digits
   * @return the bytes
   * @throws IllegalArgumentException for anything else, naming the first bad position
   */
  public static byte[] parseHex(String s) {
    if (s.length() % 2 != 0) {
      throw new IllegalArgumentException("hex string of odd length " + s.length());
    }
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      int hi = Character.digit(s.charAt(2 * i), 16);
      int lo = Character.digit(s.charAt(2 * i + 1), 16);
      if (hi < 0 || lo < 0) {
        int at = hi < 0 ? 2 * i : 2 * i + 1;
        throw new IllegalArgumentException("not a hex digit at position " + at + " of \"" + s + "\": '"
            + s.charAt(at) + "'");
      }
      out[i] = (byte) (hi << 4 | lo);
    }
    return out;
  }
}
