package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.CancelTaskReply;
import io.polyray.runtime.proto.CancelTaskRequest;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.GetObjectRefsReply;
import io.polyray.runtime.proto.GetObjectRefsRequest;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.GetObjectsReply;
import io.polyray.runtime.proto.GetObjectsRequest;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The handlers the driver's and the worker's CoreWorkerService share live in one base. */
class CoreWorkerServiceBaseTest {
  private static final ByteString WORKER = Ids.workerId();
  private static final ByteString NODE = Ids.random(Ids.NODE_BYTES);

  /** A worker still starting: no CoreWorker yet. */
  private static final class Starting extends CoreWorkerServiceBase {
    @Override
    protected CoreWorker core() {
      return null;
    }

    @Override
    protected ByteString workerId() {
      return WORKER;
    }

    @Override
    protected ByteString nodeId() {
      return NODE;
    }

    @Override
    protected BooleanSupplier cancelRunning(CancelTaskRequest request) {
      throw new AssertionError("nothing runs before the CoreWorker exists");
    }
  }

  private static final class Recorder<T> implements StreamObserver<T> {
    final List<T> values = new ArrayList<>();
    Throwable error;
    boolean completed;

    @Override
    public void onNext(T value) {
      values.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {
      completed = true;
    }
  }

  @Test
  void garbageIdsAreInvalidArgumentNamingTheField() {
    Starting s = new Starting();
    Recorder<GetObjectReply> get = new Recorder<>();
    s.getObject(GetObjectRequest.newBuilder().setObjectId(ByteString.copyFromUtf8("garbage")).build(), get);
    assertEquals(Status.Code.INVALID_ARGUMENT, Status.fromThrowable(get.error).getCode());
    assertTrue(get.error.getMessage().contains("GetObjectRequest.object_id"), get.error.getMessage());
    Recorder<CancelTaskReply> cancel = new Recorder<>();
    s.cancelTask(CancelTaskRequest.newBuilder().setTaskId(ByteString.copyFrom(new byte[3])).build(), cancel);
    assertEquals(Status.Code.INVALID_ARGUMENT, Status.fromThrowable(cancel.error).getCode());
    assertTrue(cancel.error.getMessage().contains("CancelTaskRequest.task_id"), cancel.error.getMessage());
  }

  @Test
  void withoutACoreWorkerItOwnsNothingAndCountsNothing() {
    Starting s = new Starting();
    ByteString oid = Ids.returnId(Ids.taskId(ByteString.copyFrom(new byte[] {1, 0, 0, 0})), 1);
    Recorder<GetObjectReply> get = new Recorder<>();
    s.getObject(GetObjectRequest.newBuilder().setObjectId(oid).build(), get);
    assertNull(get.error);
    assertTrue(get.completed);
    assertFalse(get.values.get(0).getFound());
    assertEquals(ErrorKind.OBJECT_LOST, get.values.get(0).getFailure().getKind());
    assertTrue(get.values.get(0).getFailure().getMessage().contains(Ids.hex(WORKER)));
    Recorder<GetObjectsReply> many = new Recorder<>();
    s.getObjects(GetObjectsRequest.newBuilder().addObjectIds(oid).addObjectIds(oid).build(), many);
    assertEquals(2, many.values.get(0).getObjectsCount());
    Recorder<CancelTaskReply> cancel = new Recorder<>();
    s.cancelTask(CancelTaskRequest.newBuilder().setTaskId(Ids.taskOf(oid)).build(), cancel);
    assertNull(cancel.error);
    assertTrue(cancel.completed);
    Recorder<GetObjectRefsReply> refs = new Recorder<>();
    s.getObjectRefs(GetObjectRefsRequest.getDefaultInstance(), refs);
    assertEquals(WORKER, refs.values.get(0).getAddress().getWorkerId());
    assertEquals(NODE, refs.values.get(0).getAddress().getNodeId());
  }

  /** The two services declare only the RPCs that differ (PushTasks, Exit); the rest is the base's. */
  @Test
  void driverAndWorkerServicesOverrideOnlyWhatDiffers() throws Exception {
    Set<String> rpcs = new TreeSet<>();
    for (Method m : io.polyray.runtime.proto.CoreWorkerServiceGrpc.AsyncService.class.getMethods()) {
      rpcs.add(m.getName());
    }
    for (String cls : List.of("io.polyray.runtime.core.DriverService",
        "io.polyray.runtime.worker.CoreWorkerServiceImpl")) {
      Set<String> own = new TreeSet<>();
      for (Method m : Class.forName(cls).getDeclaredMethods()) {
        if (rpcs.contains(m.getName())) {
          own.add(m.getName());
        }
      }
      assertEquals(Set.of("exit", "pushTasks"), own, cls);
    }
  }
}
