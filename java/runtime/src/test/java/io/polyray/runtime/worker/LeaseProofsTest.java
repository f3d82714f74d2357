package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.LeaseProof;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Lease proofs: the shared vectors (proto/vectors/lease_proof.json) and the stream check. */
class LeaseProofsTest {
  private static final Path VECTORS = Path.of(System.getProperty("polyray.root", "../.."), "proto", "vectors",
      "lease_proof.json");
  private static final byte[] KEY = new byte[32];
  private static final ByteString HOLDER = ByteString.copyFrom(new byte[28]).concat(ByteString.copyFromUtf8("h"));
  private static final ByteString OTHER = ByteString.copyFromUtf8("o".repeat(28));

  static {
    for (int i = 0; i < 32; i++) {
      KEY[i] = (byte) i;
    }
  }

  private static ByteString hex(String s) {
    byte[] b = new byte[s.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return ByteString.copyFrom(b);
  }

  @Test
  void vectorsAgreeWithPython() throws Exception {
    JsonObject doc = JsonParser.parseString(Files.readString(VECTORS)).getAsJsonObject();
    int n = 0;
    for (JsonElement e : doc.getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      LeaseProof p = LeaseProof.newBuilder().setLeaseId(hex(c.get("lease_id").getAsString()))
          .setHolder(hex(c.get("holder").getAsString())).setSeq(c.get("seq").getAsLong())
          .setProof(hex(c.get("proof").getAsString())).build();
      assertEquals(c.get("valid").getAsBoolean(), LeaseProofs.verify(hex(c.get("key").getAsString()).toByteArray(), p),
          c.get("name").getAsString());
      n++;
    }
    assertTrue(n >= 5);
  }

  private static LeaseProof grant(byte[] key, String lease, ByteString holder, long seq) {
    ByteString id = ByteString.copyFromUtf8(lease);
    return LeaseProof.newBuilder().setLeaseId(id).setHolder(holder).setSeq(seq)
        .setProof(ByteString.copyFrom(LeaseProofs.sign(key, id, holder, seq))).build();
  }

  private static TaskSpec spec(ByteString caller, TaskType type) {
    return TaskSpec.newBuilder().setType(type).setTaskId(ByteString.copyFrom(new byte[24])).setNumReturns(1)
        .setCaller(Address.newBuilder().setWorkerId(caller)).build();
  }

  private static LeaseProofs.StreamLease open(LeaseProofs g, LeaseProof p) {
    PushTasksRequest.Builder r = PushTasksRequest.newBuilder();
    if (p != null) {
      r.setLease(p);
    }
    return g.open(r.build(), LeaseProofs.StreamLease.none());
  }

  @Test
  void holderRunsOthersAreRefused() {
    LeaseProofs g = new LeaseProofs(KEY);
    TaskSpec mine = spec(HOLDER, TaskType.NORMAL_TASK);
    assertNull(g.refusal(open(g, grant(KEY, "l1", HOLDER, 1)), mine));
    assertTrue(g.refusal(open(g, null), mine).contains("no lease proof"));
    assertTrue(g.refusal(open(g, grant(new byte[32], "l1", HOLDER, 1)), mine).contains("does not verify"));
    assertTrue(g.refusal(open(g, grant(KEY, "l1", HOLDER, 1)), spec(OTHER, TaskType.NORMAL_TASK))
        .contains("not the lease holder"));
  }

  @Test
  void staleLeaseRefusedActorTasksUnchecked() {
    LeaseProofs g = new LeaseProofs(KEY);
    LeaseProof old = grant(KEY, "a", HOLDER, 5);
    LeaseProofs.StreamLease oldStream = open(g, old);
    assertNull(g.refusal(open(g, grant(KEY, "b", OTHER, 6)), spec(OTHER, TaskType.NORMAL_TASK)));
    assertTrue(g.refusal(oldStream, spec(HOLDER, TaskType.NORMAL_TASK)).contains("stale"));
    assertTrue(g.refusal(open(g, old), spec(HOLDER, TaskType.NORMAL_TASK)).contains("stale"));
    assertNull(g.refusal(open(g, null), spec(HOLDER, TaskType.ACTOR_TASK)));
    assertFalse(new LeaseProofs(null).enabled());
    assertNull(new LeaseProofs(null).refusal(LeaseProofs.StreamLease.none(), spec(HOLDER, TaskType.NORMAL_TASK)));
  }

  @Test
  void refusedResultNamesTheReason() throws Exception {
    TaskResult r = LeaseProofs.refusedResult(spec(HOLDER, TaskType.NORMAL_TASK), "no lease proof was shown", "java");
    assertTrue(r.getLeaseRefused());
    ErrorRecord rec = ErrorRecord.parseFrom(r.getReturns(0).getValue().getBody());
    assertEquals("LeaseRefused", rec.getTypeName());
    assertTrue(rec.getMessage().contains("no lease proof"));
  }
}
