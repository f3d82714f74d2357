package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.api.placement.PlacementGroup;
import io.polyray.api.placement.PlacementStrategy;
import io.polyray.api.spi.CallOptions;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.SchedulingKind;
import io.polyray.runtime.proto.SchedulingStrategy;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The caller's side of cancel (NormalTaskSubmitter with a fake raylet and fake streams) and
 * the protocol form of the scheduling options (SchedulingStrategies); no cluster.
 */
class CancelAndSchedulingTest {
  private final FakeRaylet.Directory raylets = new FakeRaylet.Directory();
  private final FakeRaylet raylet = raylets.local;
  private final FakePushStreams streams = new FakePushStreams();
  private final RecordingFinisher finisher = new RecordingFinisher();
  private final ManualScheduler clock = new ManualScheduler();
  private final NormalTaskSubmitter submitter = new NormalTaskSubmitter(raylets, streams, finisher, clock, () -> false);
  private final List<String> cancels = new ArrayList<>();
  private int tasks;

  CancelAndSchedulingTest() {
    submitter.setCanceller((worker, taskId, force, recursive) -> cancels.add("sent" + (force ? " force" : "")));
  }

  private TaskSpec submit(String name, int maxRetries) {
    return submit(name, maxRetries, ByteString.EMPTY, Map.of("CPU", 1.0));
  }

  private TaskSpec submit(String name, int maxRetries, ByteString parent, Map<String, Double> resources) {
    tasks++;
    ByteString taskId = ByteString.copyFrom(new byte[] {(byte) tasks, 7})
        .concat(ByteString.copyFrom(new byte[RuntimeSpec.IDS_TASK_BYTES - 2]));
    TaskSpec s = TaskSpec.newBuilder().setTaskId(taskId).setName(name).setMaxRetries(maxRetries)
        .setParentTaskId(parent).putAllResources(resources).build();
    submitter.submit(new PendingTask(s, List.of()));
    return s;
  }

  @Test
  void aQueuedTaskFailsCancelledAtOnceAndIsNeverPushed() {
    TaskSpec s = submit("queued", 3);
    assertTrue(submitter.cancel(s.getTaskId(), false, true));
    assertEquals(ErrorKind.TASK_CANCELLED, finisher.failed.get("queued").getKind());
    assertTrue(finisher.failed.get("queued").getMessage().contains("before it ran"));
    raylet.grant(); // the lease requested before the cancel
    assertTrue(streams.opened.isEmpty() || streams.last().tasks().isEmpty(), "nothing pushed");
    assertTrue(cancels.isEmpty(), "no worker to tell");
    assertFalse(submitter.cancel(s.getTaskId(), false, true), "a finished task is not known any more");
  }

  @Test
  void aRunningTaskIsToldToItsWorkerAndItsCancelledResultIsNotRetried() {
    TaskSpec s = submit("running", 3);
    raylet.grant();
    FakePushStreams.Stream stream = streams.last();
    assertEquals(1, stream.tasks().size());
    assertTrue(submitter.cancel(s.getTaskId(), false, true));
    assertEquals(1, cancels.size(), "CancelTask sent to the worker running it");
    assertTrue(finisher.failed.isEmpty() && finisher.completed.isEmpty(), "the worker's reply decides");
    stream.reply(TaskResult.newBuilder().setTaskId(s.getTaskId()).setIsApplicationError(true).build());
    assertEquals(List.of("running"), finisher.completedNames(), "its (cancelled) result, not a retry");
    assertEquals(1, stream.tasks().size());
  }

  @Test
  void aForcedCancelEndsTheTaskCancelledWhenItsWorkerDiesNotRetried() {
    TaskSpec s = submit("forced", 3);
    raylet.grant();
    FakePushStreams.Stream stream = streams.last();
    assertTrue(submitter.cancel(s.getTaskId(), true, true));
    assertEquals(List.of("sent force"), cancels);
    stream.breakIt(); // the worker exits
    assertEquals(ErrorKind.TASK_CANCELLED, finisher.failed.get("forced").getKind());
    assertTrue(finisher.retried.isEmpty(), "a cancelled task is not retried");
  }

  @Test
  void recursiveCancelReachesTheCancelledTasksChildrenOnly() {
    ByteString parent = ByteString.copyFromUtf8("parent-task");
    TaskSpec running = submit("child-running", 0, parent, Map.of("CPU", 1.0));
    raylet.grant();
    TaskSpec queued = submit("child-queued", 0, parent, Map.of("GPU", 1.0)); // another class: no lease yet
    TaskSpec other = submit("other", 0, ByteString.copyFromUtf8("another"), Map.of("GPU", 1.0));
    assertEquals(2, submitter.cancelChildren(parent, false));
    assertEquals(ErrorKind.TASK_CANCELLED, finisher.failed.get("child-queued").getKind());
    assertEquals(List.of("sent"), cancels, "the running child's worker is asked (recursively)");
    assertFalse(finisher.failed.containsKey("other"));
    assertFalse(finisher.failed.containsKey(running.getName()), "the running child ends by its worker's reply");
    assertEquals(0, submitter.cancelChildren(parent, false), "children already cancelled are not asked again");
    assertEquals(List.of("sent"), cancels);
    assertTrue(queued.getParentTaskId().equals(parent) && !other.getParentTaskId().equals(parent));
  }

  private static CallOptions opts() {
    return new CallOptions();
  }

  @Test
  void strategiesTravelAsThePythonCallersDo() {
    assertEquals(SchedulingKind.SCHEDULING_DEFAULT, SchedulingStrategies.of(opts(), null).getKind());
    CallOptions spread = opts();
    spread.setSpread();
    assertEquals(SchedulingKind.SCHEDULING_SPREAD, SchedulingStrategies.of(spread, null).getKind());
    CallOptions node = opts();
    node.setNodeAffinity("0a".repeat(28), true);
    SchedulingStrategy n = SchedulingStrategies.of(node, null);
    assertEquals(SchedulingKind.SCHEDULING_NODE_AFFINITY, n.getKind());
    assertEquals(28, n.getNodeId().size());
    assertEquals(10, n.getNodeId().byteAt(0));
    assertTrue(n.getSoft());
    PlacementGroup pg = new PlacementGroup("01".repeat(18), "", PlacementStrategy.STRICT_SPREAD,
        List.of(Map.of("CPU", 1.0), Map.of("CPU", 1.0)));
    CallOptions inPg = opts();
    inPg.setPlacementGroup(pg, 1, true);
    SchedulingStrategy p = SchedulingStrategies.of(inPg, null);
    assertEquals(SchedulingKind.SCHEDULING_PLACEMENT_GROUP, p.getKind());
    assertEquals(18, p.getPlacementGroupId().size());
    assertEquals(1, p.getBundleIndex());
    assertTrue(p.getCaptureChildTasks());
  }

  @Test
  void childrenWithNoStrategyInheritACapturingGroupAnyBundle() {
    SchedulingStrategy capturing = SchedulingStrategy.newBuilder().setKind(SchedulingKind.SCHEDULING_PLACEMENT_GROUP)
        .setPlacementGroupId(ByteString.copyFrom(new byte[18])).setBundleIndex(1).setCaptureChildTasks(true).build();
    TaskSpec parent = TaskSpec.newBuilder().setType(TaskType.NORMAL_TASK).setScheduling(capturing).build();
    SchedulingStrategy child = SchedulingStrategies.of(opts(), parent);
    assertEquals(SchedulingKind.SCHEDULING_PLACEMENT_GROUP, child.getKind());
    assertEquals(-1, child.getBundleIndex());
    TaskSpec notCapturing = parent.toBuilder().setScheduling(capturing.toBuilder().setCaptureChildTasks(false))
        .build();
    assertEquals(SchedulingKind.SCHEDULING_DEFAULT, SchedulingStrategies.of(opts(), notCapturing).getKind());
    CallOptions spread = opts();
    spread.setSpread();
    assertEquals(SchedulingKind.SCHEDULING_SPREAD, SchedulingStrategies.of(spread, parent).getKind(),
        "a strategy of its own wins");
    // An actor's method: its actor's creation is the parent.
    TaskSpec call = TaskSpec.newBuilder().setType(TaskType.ACTOR_TASK).build();
    assertEquals(parent, SchedulingStrategies.parent(call, parent));
    assertEquals(parent, SchedulingStrategies.parent(null, parent));
  }

  @Test
  void aRequestNoBundleHoldsIsRefusedAtTheCall() {
    PlacementGroup pg = new PlacementGroup("01".repeat(18), "", PlacementStrategy.PACK,
        List.of(Map.of("CPU", 1.0), Map.of("CPU", 4.0)));
    CallOptions o = opts();
    o.setPlacementGroup(pg, 0, false);
    SchedulingStrategies.checkFitsBundle(o, Map.of("CPU", 1.0), "task f");
    String m = assertThrows(IllegalArgumentException.class,
        () -> SchedulingStrategies.checkFitsBundle(o, Map.of("CPU", 2.0), "task f")).getMessage();
    assertTrue(m.startsWith("task f cannot be scheduled in its placement group") && m.contains("not bundle 0"), m);
    o.setPlacementGroup(pg, -1, false);
    SchedulingStrategies.checkFitsBundle(o, Map.of("CPU", 2.0), "task f");
    assertThrows(IllegalArgumentException.class,
        () -> SchedulingStrategies.checkFitsBundle(o, Map.of("GPU", 1.0), "task f"));
  }
}
