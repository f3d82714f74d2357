package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.LeaseProof;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Lease proofs: a worker runs normal tasks only from the holder of its current lease (as
 * python/polyray/protocol/lease_proof.py; cases in proto/vectors/lease_proof.json).
 *
 * <p>The raylet gives the worker a key (POLYRAY_LEASE_KEY, hex) and each grant a proof,
 * HMAC-SHA256(key, lease_id || holder || seq as 8 bytes big-endian). The holder shows it in
 * the first PushTasksRequest of a stream; the worker checks it once per stream and refuses the
 * stream's normal tasks when it is missing or wrong, when a task's caller is not the holder, or
 * when a newer lease has been seen since. Actor tasks are not checked.
 */
public final class LeaseProofs {
  /** What one push stream proved: its lease, or why none. */
  public static final class StreamLease {
    final ByteString holder;
    final long seq;
    final String missing;

    StreamLease(ByteString holder, long seq, String missing) {
      this.holder = holder;
      this.seq = seq;
      this.missing = missing;
    }

    /** A stream that has shown nothing yet. */
    public static StreamLease none() {
      return new StreamLease(ByteString.EMPTY, 0, "no lease proof was shown");
    }
  }

  /** This process's guard. */
  public static final LeaseProofs PROCESS = fromEnv();

  private final byte[] key;
  /** The newest grant seen (grant numbers compare unsigned). */
  private volatile long newest;

  public LeaseProofs(byte[] key) {
    this.key = key;
  }

  /** The process's guard, keyed by POLYRAY_LEASE_KEY (none: nothing is checked). */
  public static LeaseProofs fromEnv() {
    String raw = System.getenv("POLYRAY_LEASE_KEY");
    if (raw == null || raw.isEmpty() || raw.length() % 2 != 0) {
      return new LeaseProofs(null);
    }
    try {
      byte[] k = new byte[raw.length() / 2];
      for (int i = 0; i < k.length; i++) {
        k[i] = (byte) Integer.parseInt(raw.substring(2 * i, 2 * i + 2), 16);
      }
      return new LeaseProofs(k);
    } catch (NumberFormatException e) {
      return new LeaseProofs(null);
    }
  }

  public boolean enabled() {
    return key != null;
  }

  /** HMAC-SHA256(key, lease_id || holder || seq as 8 bytes big-endian). */
  public static byte[] sign(byte[] key, ByteString leaseId, ByteString holder, long seq) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update(leaseId.toByteArray());
      mac.update(holder.toByteArray());
      mac.update(ByteBuffer.allocate(8).putLong(seq).array());
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /** Whether {@code lease} was signed with {@code key} (constant-time comparison). */
  public static boolean verify(byte[] key, LeaseProof lease) {
    return MessageDigest.isEqual(sign(key, lease.getLeaseId(), lease.getHolder(), lease.getSeq()),
        lease.getProof().toByteArray());
  }

  /** The stream's lease after {@code req} (which may carry a proof). */
  public synchronized StreamLease open(PushTasksRequest req, StreamLease current) {
    if (key == null || !req.hasLease()) {
      return current;
    }
    LeaseProof lease = req.getLease();
    if (!verify(key, lease)) {
      return new StreamLease(ByteString.EMPTY, 0, "the lease proof of lease " + Hex.of(lease.getLeaseId())
          + " does not verify (not a grant of this worker to " + Hex.of(lease.getHolder()) + ")");
    }
    if (Long.compareUnsigned(lease.getSeq(), newest) < 0) {
      return new StreamLease(ByteString.EMPTY, 0, "lease " + Hex.of(lease.getLeaseId()) + " is stale: grant "
          + Long.toUnsignedString(lease.getSeq()) + ", the worker was leased again since (grant "
          + Long.toUnsignedString(newest) + ")");
    }
    newest = lease.getSeq();
    return new StreamLease(lease.getHolder(), lease.getSeq(), "");
  }

  /** Why {@code spec} is refused on a stream that proved {@code stream}, or null. */
  public String refusal(StreamLease stream, TaskSpec spec) {
    if (key == null || spec.getType() != TaskType.NORMAL_TASK) {
      return null;
    }
    if (!stream.missing.isEmpty()) {
      return stream.missing;
    }
    long n = newest;
    if (Long.compareUnsigned(stream.seq, n) < 0) {
      return "the stream's lease is stale: grant " + Long.toUnsignedString(stream.seq)
          + ", the worker was leased again since (grant " + Long.toUnsignedString(n) + ")";
    }
    if (!spec.getCaller().getWorkerId().equals(stream.holder)) {
      return "the caller " + Hex.of(spec.getCaller().getWorkerId()) + " is not the lease holder "
          + Hex.of(stream.holder);
    }
    return null;
  }

  /** The reply to a refused task: LeaseRefused errors naming the reason, lease_refused set. */
  public static TaskResult refusedResult(TaskSpec spec, String why, String worker) {
    ErrorRecord rec = ErrorRecord.newBuilder().setKind(ErrorKind.RUNTIME_ERROR).setTypeName("LeaseRefused")
        .setLanguage(Language.JAVA).setMessage("the task was refused by worker " + worker + ": " + why).build();
    Envelope env = Envelope.newBuilder().setFormat(Format.FORMAT_ERROR).setBody(rec.toByteString()).build();
    TaskResult.Builder b = TaskResult.newBuilder().setTaskId(spec.getTaskId()).setLeaseRefused(true);
    for (int i = 1; i <= spec.getNumReturns(); i++) {
      byte[] idx = {(byte) i, (byte) (i >>> 8), (byte) (i >>> 16), (byte) (i >>> 24)};
      b.addReturns(ReturnObject.newBuilder().setObjectId(spec.getTaskId().concat(ByteString.copyFrom(idx)))
          .setValue(env));
    }
    return b.build();
  }

  /** Hex of bytes, for messages. */
  static final class Hex {
    static String of(ByteString b) {
      StringBuilder s = new StringBuilder();
      for (byte x : b.toByteArray()) {
        s.append(String.format("%02x", x));
      }
      return s.toString();
    }
  }
}
