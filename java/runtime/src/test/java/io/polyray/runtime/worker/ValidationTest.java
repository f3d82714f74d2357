package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import org.junit.jupiter.api.Test;

/** Validation: sound specs pass, a bad field is named, an addressable bad task gets an error result. */
class ValidationTest {
  private static ByteString bytes(int n) {
    return ByteString.copyFrom(new byte[n]);
  }

  private static TaskSpec.Builder spec() {
    TaskSpec.Builder b = TaskSpec.newBuilder().setType(TaskType.NORMAL_TASK).setJobId(bytes(4))
        .setTaskId(bytes(24)).setNumReturns(1).setName("Calc.add")
        .setCaller(Address.newBuilder().setHost("127.0.0.1").setPort(5).setWorkerId(bytes(28)));
    b.getFunctionBuilder().getJavaBuilder().setClassName("x.Calc").setMethodName("add");
    b.addArgsBuilder().getValueBuilder().setBody(bytes(1));
    return b;
  }

  private static String problem(TaskSpec s) {
    return assertThrows(Validation.InvalidInput.class, () -> Validation.checkTaskSpec(s)).getMessage();
  }

  @Test
  void soundSpecPasses() {
    Validation.checkTaskSpec(spec().build());
  }

  @Test
  void getObjectRefsPageTokenIsEmptyOrAnObjectId() {
    Validation.checkGetObjectRefs(io.polyray.runtime.proto.GetObjectRefsRequest.getDefaultInstance());
    Validation.checkGetObjectRefs(io.polyray.runtime.proto.GetObjectRefsRequest.newBuilder()
        .setPageToken(bytes(28)).build());
    String problem = assertThrows(Validation.InvalidInput.class, () -> Validation.checkGetObjectRefs(
        io.polyray.runtime.proto.GetObjectRefsRequest.newBuilder().setPageToken(bytes(3)).build())).getMessage();
    assertTrue(problem.contains("GetObjectRefsRequest.page_token"), problem);
  }

  @Test
  void borrowLendersAreWorkerIdsOrEmpty() {
    io.polyray.runtime.proto.UpdateBorrowsRequest.Builder r = io.polyray.runtime.proto.UpdateBorrowsRequest
        .newBuilder().setBorrower(Address.newBuilder().setWorkerId(bytes(28)))
        .setLender(Address.newBuilder().setWorkerId(bytes(28))).addLentReceivedLenders(bytes(28))
        .addLentReceivedLenders(ByteString.EMPTY);
    Validation.checkBorrows(r.build());
    io.polyray.runtime.proto.UpdateBorrowsRequest bad = r.clone().addLentReceivedLenders(bytes(7)).build();
    String problem = assertThrows(Validation.InvalidInput.class, () -> Validation.checkBorrows(bad)).getMessage();
    assertTrue(problem.contains("UpdateBorrowsRequest.lent_received_lenders[2]"), problem);
    io.polyray.runtime.proto.UpdateBorrowsRequest badLender =
        r.clone().setLender(Address.newBuilder().setWorkerId(bytes(5))).build();
    problem = assertThrows(Validation.InvalidInput.class, () -> Validation.checkBorrows(badLender)).getMessage();
    assertTrue(problem.contains("UpdateBorrowsRequest.lender.worker_id"), problem);
  }

  @Test
  void badFieldsAreNamed() {
    assertEquals("TaskSpec.task_id: 3 bytes, expected 24", problem(spec().setTaskId(bytes(3)).build()));
    assertTrue(problem(spec().setNumReturns(1_000_000_000).build()).startsWith("TaskSpec.num_returns"));
    assertEquals("TaskSpec.type: unknown TaskType value 9", problem(spec().setTypeValue(9).build()));
    assertTrue(problem(spec().setType(TaskType.ACTOR_TASK).build()).startsWith("TaskSpec.actor_id: 0 bytes"));
    TaskSpec.Builder ref = spec();
    ref.addArgsBuilder().getRefBuilder().setObjectId(bytes(5));
    assertEquals("TaskSpec.args[1].ref.object_id: 5 bytes, expected 28", problem(ref.build()));
    assertTrue(problem(spec().setName("n".repeat(5000)).build()).startsWith("TaskSpec.name: 5000 bytes"));
  }

  @Test
  void addressableBadTaskGetsAnErrorResultPerReturn() {
    TaskSpec s = spec().setNumReturns(2).setJobId(bytes(1)).build();
    Validation.InvalidInput e = assertThrows(Validation.InvalidInput.class, () -> Validation.checkTaskSpec(s));
    assertTrue(Validation.addressable(s));
    TaskResult r = Validation.invalidTaskResult(s, e, "w");
    assertEquals(2, r.getReturnsCount());
    assertEquals(s.getTaskId().concat(ByteString.copyFrom(new byte[] {2, 0, 0, 0})), r.getReturns(1).getObjectId());
    ErrorRecord rec;
    try {
      rec = ErrorRecord.parseFrom(r.getReturns(0).getValue().getBody());
    } catch (com.google.protobuf.InvalidProtocolBufferException x) {
      throw new AssertionError(x);
    }
    assertTrue(rec.getMessage().contains("TaskSpec.job_id: 1 bytes, expected 4"), rec.getMessage());
    assertFalse(Validation.addressable(spec().setTaskId(bytes(3)).build()));
    assertFalse(Validation.addressable(spec().setNumReturns(1_000_000_000).build()));
  }
}
