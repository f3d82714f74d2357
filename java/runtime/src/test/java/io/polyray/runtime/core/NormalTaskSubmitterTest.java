package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.ReturnWorkerRequest;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * NormalTaskSubmitter in process: a fake raylet answers lease requests, fake streams stand
 * for workers, and a manual clock drives lingers; no cluster, no threads, no sleeping.
 * Each test drives one decision (retry, linger, pipelining, spill-over, lease failure)
 * and checks what the submitter did about it.
 */
class NormalTaskSubmitterTest {
  private final FakeRaylet.Directory raylets = new FakeRaylet.Directory();
  private final FakeRaylet raylet = raylets.local;
  private final FakePushStreams streams = new FakePushStreams();
  private final RecordingFinisher finisher = new RecordingFinisher();
  private final ManualScheduler clock = new ManualScheduler();
  private final NormalTaskSubmitter submitter =
      new NormalTaskSubmitter(raylets, streams, finisher, clock, () -> false);
  private int tasks;

  private TaskSpec spec(String name, int maxRetries, Map<String, Double> resources) {
    tasks++;
    ByteString taskId = ByteString.copyFrom(new byte[] {(byte) tasks, (byte) (tasks >> 8)})
        .concat(ByteString.copyFrom(new byte[RuntimeSpec.IDS_TASK_BYTES - 2]));
    return TaskSpec.newBuilder().setTaskId(taskId).setName(name).setMaxRetries(maxRetries)
        .putAllResources(resources).build();
  }

  private TaskSpec submit(String name) {
    return submit(name, 0, Map.of("CPU", 1.0));
  }

  private TaskSpec submit(String name, int maxRetries, Map<String, Double> resources) {
    TaskSpec s = spec(name, maxRetries, resources);
    submitter.submit(new PendingTask(s, List.of()));
    return s;
  }

  private static List<Integer> attempts(List<TaskSpec> specs) {
    List<Integer> out = new ArrayList<>();
    for (TaskSpec s : specs) {
      out.add(s.getAttempt());
    }
    return out;
  }

  @Test
  void brokenStreamRetriesUpToMaxRetriesThenWorkerCrashed() {
    submit("flaky", 2, Map.of("CPU", 1.0));
    List<Integer> pushedAttempts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      assertEquals(1, raylet.waiting().size(), "one lease request for the queued task (round " + i + ")");
      raylet.grant();
      FakePushStreams.Stream s = streams.last();
      pushedAttempts.addAll(attempts(s.tasks()));
      assertTrue(finisher.failed.isEmpty(), "no failure while retries are left (round " + i + ")");
      s.breakIt();
      // A broken stream's worker is returned with disconnect, never reused.
      ReturnWorkerRequest ret = raylet.returned.get(raylet.returned.size() - 1);
      assertTrue(ret.getDisconnect());
      assertEquals(s.workerId(), ret.getWorkerId());
    }
    assertEquals(List.of(0, 1, 2), pushedAttempts, "attempts 0..max_retries, each on a new worker");
    assertEquals(List.of(1, 2), attempts(finisher.retried), "each retry told as its new attempt");
    assertEquals(3, streams.opened.size());
    ErrorRecord r = finisher.failed.get("flaky");
    assertEquals(ErrorKind.WORKER_CRASHED, r.getKind());
    assertTrue(r.getMessage().contains("3 attempt(s)"), r.getMessage());
    assertTrue(raylet.waiting().isEmpty(), "no lease requested for a task that failed");
  }

  @Test
  void showsTheProofAndRetriesARefusedTaskOnANewLease() {
    TaskSpec s = spec("refused", 1, Map.of("CPU", 1.0));
    submitter.submit(new PendingTask(s, List.of()));
    raylet.grantWithProof("proof-1");
    FakePushStreams.Stream first = streams.last();
    assertEquals("proof-1", first.sent.get(0).getLease().getProof().toStringUtf8(),
        "the first request of the lease's stream shows the grant's proof");
    first.reply(io.polyray.runtime.proto.TaskResult.newBuilder().setTaskId(s.getTaskId()).setLeaseRefused(true)
        .build());
    assertTrue(finisher.completed.isEmpty(), "a retry is left");
    assertEquals(1, raylet.returned.size(), "the refused lease goes back");
    assertFalse(raylet.returned.get(0).getDisconnect());
    raylet.grantWithProof("proof-2");
    FakePushStreams.Stream second = streams.last();
    assertTrue(second != first, "a new lease, a new stream");
    assertEquals(List.of(1), attempts(second.tasks()), "the task, charged one retry");
    second.reply(io.polyray.runtime.proto.TaskResult.newBuilder().setTaskId(s.getTaskId()).setLeaseRefused(true)
        .build());
    assertEquals(List.of("refused"), finisher.completedNames(), "no retry left: the refusal is its result");
  }

  @Test
  void applicationErrorIsRetriedOnlyWithRetryExceptions() {
    TaskSpec s = spec("raises", 1, Map.of("CPU", 1.0)).toBuilder().setRetryExceptions(true).build();
    submitter.submit(new PendingTask(s, List.of()));
    raylet.grant();
    FakePushStreams.Stream stream = streams.last();
    stream.reply(io.polyray.runtime.proto.TaskResult.newBuilder().setTaskId(s.getTaskId())
        .setIsApplicationError(true).build());
    assertTrue(finisher.completed.isEmpty(), "retried, not reported");
    assertEquals(List.of(0, 1), attempts(stream.tasks()), "the retry reuses the lease");
    stream.reply(io.polyray.runtime.proto.TaskResult.newBuilder().setTaskId(s.getTaskId())
        .setIsApplicationError(true).build());
    assertEquals(List.of("raises"), finisher.completedNames(), "retries exhausted: the error is the result");
  }

  @Test
  void leaseIsReturnedAfterLingerOfManualTime() {
    TaskSpec t = submit("one");
    raylet.grant();
    FakePushStreams.Stream s = streams.last();
    s.succeed(t);
    assertEquals(List.of("one"), finisher.completedNames());
    clock.advanceMs(RuntimeSpec.LEASE_LINGER_MS - 1);
    assertTrue(raylet.returned.isEmpty(), "still lingering just before the linger ends");
    assertFalse(s.halfClosed);
    clock.advanceMs(1);
    assertEquals(1, raylet.returned.size(), "returned once the linger ended");
    assertFalse(raylet.returned.get(0).getDisconnect(), "a healthy worker is returned for reuse");
    assertTrue(s.halfClosed, "its stream is closed");
  }

  @Test
  void lingeringLeaseIsReusedByTheNextTask() {
    TaskSpec first = submit("first");
    raylet.grant();
    FakePushStreams.Stream s = streams.last();
    s.succeed(first);
    clock.advanceMs(RuntimeSpec.LEASE_LINGER_MS - 1);
    TaskSpec second = submit("second");
    assertEquals(List.of("first", "second"), names(s.tasks()), "the lingering lease took the task");
    assertEquals(1, raylet.requests.size(), "no second lease request");
    clock.advanceMs(RuntimeSpec.LEASE_LINGER_MS * 3);
    assertTrue(raylet.returned.isEmpty(), "never returned while a task is in flight");
    s.succeed(second);
    clock.advanceMs(RuntimeSpec.LEASE_LINGER_MS);
    assertEquals(1, raylet.returned.size(), "returned once, a full linger after the last task");
    assertEquals(1, streams.opened.size());
  }

  private static List<String> names(List<TaskSpec> specs) {
    List<String> out = new ArrayList<>();
    for (TaskSpec s : specs) {
      out.add(s.getName());
    }
    return out;
  }

  /** Submits n tasks and grants one lease: returns the specs. */
  private List<TaskSpec> queueWithOneLease(int n) {
    List<PendingTask> batch = new ArrayList<>();
    List<TaskSpec> specs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      TaskSpec s = spec("t" + i, 0, Map.of("CPU", 1.0));
      specs.add(s);
      batch.add(new PendingTask(s, List.of()));
    }
    submitter.submitAll(batch);
    raylet.grant();
    return specs;
  }

  @Test
  void shortTasksAndLongQueuePipelineUpToTheFastLimit() {
    queueWithOneLease(100);
    FakePushStreams.Stream s = streams.last();
    assertEquals(1, s.tasks().size(), "task time unknown: one in flight");
    clock.advanceUs(RuntimeSpec.PIPELINING_FAST_TASK_US / 4);
    s.succeed(s.tasks());
    // Average now short, 99 queued > 2 x 1 lease: a full pipeline in one message.
    assertEquals(2, s.sent.size());
    assertEquals(RuntimeSpec.PIPELINING_MAX_INFLIGHT_FAST, s.sent.get(1).getTasksCount());
  }

  @Test
  void slowTasksStayOneInFlight() {
    queueWithOneLease(100);
    FakePushStreams.Stream s = streams.last();
    for (int i = 0; i < 5; i++) {
      clock.advanceUs(RuntimeSpec.PIPELINING_FAST_TASK_US * 2);
      List<TaskSpec> sent = s.sent.get(s.sent.size() - 1).getTasksList();
      assertEquals(1, sent.size(), "slow tasks: one at a time (message " + i + ")");
      s.succeed(sent);
    }
  }

  @Test
  void shortTasksWithShortQueueStayOneInFlight() {
    // Queue of 2 after the first push: not longer than 2 x 1 lease, so tasks that may wait
    // on each other each get their own turn (the rule Java used to skip: "fast" alone).
    queueWithOneLease(3);
    FakePushStreams.Stream s = streams.last();
    clock.advanceUs(100);
    s.succeed(s.tasks());
    assertEquals(2, s.sent.size());
    assertEquals(1, s.sent.get(1).getTasksCount(), "short tasks but a short queue: one in flight");
  }

  @Test
  void spillOverAsksTheOtherNodesRayletWithGrantOrReject() {
    TaskSpec t = submit("spilled");
    Address other = Address.newBuilder().setHost("node-b").setPort(7002).build();
    raylet.spillTo(other);
    FakeRaylet remote = raylets.others.get(7002);
    assertEquals(1, remote.requests.size(), "asked of node-b's raylet");
    assertTrue(remote.requests.get(0).request.getGrantOrReject(), "which must grant or reject, not spill again");
    assertFalse(raylet.requests.get(0).request.getGrantOrReject());
    assertEquals(raylet.requests.get(0).request.getTask().getTaskId(),
        remote.requests.get(0).request.getTask().getTaskId(), "the same request, moved");
    Address worker = remote.grant();
    FakePushStreams.Stream s = streams.last();
    assertEquals(worker, s.worker);
    s.succeed(t);
    clock.advanceMs(RuntimeSpec.LEASE_LINGER_MS);
    assertEquals(1, remote.returned.size(), "the lease goes back to the raylet that granted it");
    assertTrue(raylet.returned.isEmpty());
  }

  @Test
  void leaseFailureFailsTheQueuedTasksOfThatClassWithTheRecord() {
    submit("a1");
    submit("a2");
    submit("gpu", 0, Map.of("GPU", 1.0));
    ErrorRecord why = ErrorRecord.newBuilder().setKind(ErrorKind.RUNTIME_ERROR).setTypeName("WorkerStartError")
        .setMessage("cannot run 'java': No such file or directory").build();
    // Requests go out in submission order: the first two are class CPU's.
    raylet.failWith(why);
    assertEquals(why, finisher.failed.get("a1"));
    assertEquals(why, finisher.failed.get("a2"));
    assertFalse(finisher.failed.containsKey("gpu"), "another class is not touched");
    raylet.grant(); // the CPU class's second request: nothing is left to run on it
    assertTrue(streams.opened.isEmpty(), "a lease nobody needs is not used");
    assertEquals(1, raylet.returned.size(), "but given back at once");
    raylet.grant(); // the GPU class's request
    assertEquals(List.of("gpu"), names(streams.last().tasks()));
  }

  private static ErrorRecord crashedBeforeRegistering() {
    return ErrorRecord.newBuilder().setKind(ErrorKind.WORKER_CRASHED).setTypeName("WorkerCrashedError")
        .setReason(io.polyray.runtime.proto.ErrorReason.REASON_PROCESS_EXITED).setExitCode(-9)
        .setMessage("JAVA worker (pid 42) failed to start: it was killed by signal SIGKILL before registering")
        .build();
  }

  @Test
  void workerCrashBeforeRegisteringChargesOnlyTheHeadTaskAndAsksAgain() {
    PendingTask head = new PendingTask(spec("head", 2, Map.of("CPU", 1.0)), List.of());
    PendingTask next = new PendingTask(spec("next", 0, Map.of("CPU", 1.0)), List.of());
    submitter.submit(head);
    submitter.submit(next);
    assertEquals(2, raylet.waiting().size(), "two requests, both made for the head task at attempt 0");
    raylet.failWith(crashedBeforeRegistering());
    assertTrue(finisher.failed.isEmpty(), "no task fails while the head task has retries left");
    assertEquals(1, head.spec.getAttempt());
    assertFalse(raylet.waiting().isEmpty(), "a lease is asked for again");
    // The second request was made for the head at attempt 0, charged already: it costs nothing.
    raylet.failWith(crashedBeforeRegistering());
    assertEquals(1, head.spec.getAttempt(), "one task charged twice for the requests made for it in one go");
    for (int i = 0; i < 20 && finisher.failed.isEmpty(); i++) {
      raylet.failWith(crashedBeforeRegistering());
    }
    assertEquals(List.of("head"), new ArrayList<>(finisher.failed.keySet()), "retries spent: only the head task fails");
    ErrorRecord r = finisher.failed.get("head");
    assertEquals(ErrorKind.WORKER_CRASHED, r.getKind());
    assertEquals(-9, r.getExitCode());
    assertTrue(r.getMessage().contains("SIGKILL") && r.getMessage().contains("3 attempt(s)"), r.getMessage());
    raylet.grant();
    assertEquals(List.of("next"), names(streams.last().tasks()), "the rest of the queue runs on the next lease");
    assertEquals(List.of(0), attempts(streams.last().tasks()), "and was not charged");
  }

  @Test
  void startFailureDoesNotChargeATaskAlreadyPushed() {
    PendingTask a = new PendingTask(spec("a", 0, Map.of("CPU", 1.0)), List.of());
    PendingTask b = new PendingTask(spec("b", 0, Map.of("CPU", 1.0)), List.of());
    submitter.submit(a);
    submitter.submit(b);
    raylet.grant(); // `a` runs; the other request was made for `a` too
    assertEquals(List.of("a"), names(streams.last().tasks()));
    raylet.failWith(crashedBeforeRegistering());
    assertTrue(finisher.failed.isEmpty(), "a start failure charged a task that runs elsewhere, or the next one");
    assertEquals(0, a.spec.getAttempt());
    assertEquals(0, b.spec.getAttempt());
    raylet.grant();
    assertEquals(List.of("b"), names(streams.last().tasks()));
    assertEquals(List.of(0), attempts(streams.last().tasks()));
  }

  @Test
  void deadWorkerChargesOnlyTheTaskItWasRunning() {
    List<TaskSpec> specs = queueWithOneLease(100); // max_retries 0 each
    FakePushStreams.Stream s = streams.last();
    clock.advanceUs(100);
    s.succeed(s.tasks());
    assertEquals(RuntimeSpec.PIPELINING_MAX_INFLIGHT_FAST, s.sent.get(1).getTasksCount());
    s.breakIt(); // t1 ran, t2..t32 waited behind it
    assertEquals(List.of("t1"), new ArrayList<>(finisher.failed.keySet()), "only the running task is charged");
    assertEquals(ErrorKind.WORKER_CRASHED, finisher.failed.get("t1").getKind());
    raylet.grant();
    assertEquals(List.of("t2"), names(streams.last().tasks()), "the pipelined ones go back first, in order");
    assertEquals(List.of(0), attempts(streams.last().tasks()), "uncharged");
    assertEquals(100, specs.size());
  }

  @Test
  void pipelinedTaskIsSparedAtMostThreeTimes() {
    queueWithOneLease(100);
    int fast = RuntimeSpec.PIPELINING_MAX_INFLIGHT_FAST;
    // Round r: a lease runs t[2r] alone, answers it fast, takes the next `fast` tasks
    // (t[2r+1] runs, the rest wait behind it), and its worker dies (max_retries 0: t[2r+1] fails).
    for (int r = 0; r < 4; r++) {
      if (r > 0) {
        raylet.grant();
      }
      FakePushStreams.Stream s = streams.last();
      assertEquals(List.of("t" + 2 * r), names(s.tasks()), "round " + r);
      clock.advanceUs(100);
      s.succeed(s.tasks());
      assertEquals(fast, s.sent.get(1).getTasksCount());
      s.breakIt();
      assertTrue(finisher.failed.containsKey("t" + (2 * r + 1)), "the running task is charged, round " + r);
      if (r < 3) {
        assertEquals(r + 1, finisher.failed.size(), "only the running task is charged, round " + r);
      }
    }
    // t8..t[fast] were behind the running task 4 times: spared 3 times, charged (failed) the 4th.
    assertEquals(4 + (fast - 7), finisher.failed.size());
    for (int i = 8; i <= fast; i++) {
      assertTrue(finisher.failed.containsKey("t" + i), "t" + i + " spared more than 3 times");
    }
    // Those that joined later were spared fewer times.
    for (int i = fast + 1; i <= fast + 6; i++) {
      assertFalse(finisher.failed.containsKey("t" + i), "t" + i);
    }
  }

  @Test
  void brokenStreamOnAnotherNodeIsNodeDiedWhenItsRayletIsSilent() {
    ByteString remote = ByteString.copyFromUtf8("remote-node");
    NormalTaskSubmitter watched = new NormalTaskSubmitter(raylets, streams, finisher, clock, () -> false,
        (deadlineS, reply) -> { }, () -> ByteString.copyFromUtf8("local-node"));
    watched.submit(new PendingTask(spec("gone", 0, Map.of("CPU", 1.0)), List.of()));
    raylet.grantOn(remote);
    raylet.answersProbes = false;
    streams.last().breakIt();
    assertEquals(1, raylet.probes, "the worker's raylet is probed");
    assertEquals(ErrorKind.NODE_DIED, finisher.failed.get("gone").getKind(), finisher.failed.get("gone").getMessage());
    watched.submit(new PendingTask(spec("crashed", 0, Map.of("CPU", 1.0)), List.of()));
    raylet.grantOn(remote);
    raylet.answersProbes = true;
    streams.last().breakIt();
    assertEquals(ErrorKind.WORKER_CRASHED, finisher.failed.get("crashed").getKind());
  }

  @Test
  void workerCrashRetriedTaskRunsWithItsNextAttempt() {
    submit("head", 1, Map.of("CPU", 1.0));
    raylet.failWith(crashedBeforeRegistering());
    raylet.grant();
    assertEquals(List.of(1), attempts(streams.last().tasks()), "the crash before registering counted");
    assertTrue(finisher.failed.isEmpty());
  }

  @Test
  void aNodeTheGcsDeclaresDeadFailsItsTaskWithNodeDiedThoughTheStreamStaysOpen() {
    ByteString local = ByteString.copyFromUtf8("local-node");
    ByteString remote = ByteString.copyFromUtf8("remote-node");
    List<io.grpc.stub.StreamObserver<io.polyray.runtime.proto.GetAllNodesReply>> asked = new ArrayList<>();
    NormalTaskSubmitter watched = new NormalTaskSubmitter(raylets, streams, finisher, clock, () -> false,
        (deadlineS, reply) -> asked.add(reply), () -> local);
    TaskSpec doomed = spec("doomed", 0, Map.of("CPU", 1.0));
    TaskSpec retried = spec("retried", 1, Map.of("CPU", 1.0, "x", 1.0));
    watched.submit(new PendingTask(doomed, List.of()));
    watched.submit(new PendingTask(retried, List.of()));
    raylet.grantOn(remote);
    raylet.grantOn(remote);
    assertEquals(2, streams.opened.size());
    assertTrue(asked.isEmpty(), "the table is read only every node_watch_ms");
    clock.advanceMs(RuntimeSpec.LEASE_NODE_WATCH_MS);
    assertEquals(1, asked.size(), "read once while leases are held on another node");
    answer(asked.get(0), io.polyray.runtime.proto.NodeInfo.newBuilder().setNodeId(remote).setAlive(true).build());
    assertTrue(finisher.failed.isEmpty(), "an alive node ends nothing");
    clock.advanceMs(RuntimeSpec.LEASE_NODE_WATCH_MS);
    assertEquals(2, asked.size());
    answer(asked.get(1), io.polyray.runtime.proto.NodeInfo.newBuilder().setNodeId(remote).setAlive(false)
        .setDeathReason("missed heartbeats").build());
    ErrorRecord r = finisher.failed.get("doomed");
    assertEquals(ErrorKind.NODE_DIED, r.getKind(), "no retries left: NODE_DIED");
    assertTrue(r.getMessage().contains("missed heartbeats"), r.getMessage());
    assertFalse(finisher.failed.containsKey("retried"), "a task with retries left is retried");
    assertEquals(1, raylet.waiting().size(), "a lease is asked for the retried task");
    assertEquals(2, raylet.returned.stream().filter(ReturnWorkerRequest::getDisconnect).count());
    clock.advanceMs(RuntimeSpec.LEASE_NODE_WATCH_MS);
    assertEquals(2, asked.size(), "no leases on other nodes: the watch stops");
  }

  private static void answer(io.grpc.stub.StreamObserver<io.polyray.runtime.proto.GetAllNodesReply> reply,
      io.polyray.runtime.proto.NodeInfo node) {
    reply.onNext(io.polyray.runtime.proto.GetAllNodesReply.newBuilder().addNodes(node).build());
    reply.onCompleted();
  }

  // -- arguments after an executor's death (docs/ownership.md, Deaths) --

  private ByteString submitWithArg(String name, int maxRetries) {
    TaskSpec s = spec(name, maxRetries, Map.of("CPU", 1.0));
    ByteString arg = s.getTaskId().concat(ByteString.copyFromUtf8("arg"));
    submitter.submit(new PendingTask(s, List.of(arg)));
    return arg;
  }

  @Test
  void aTaskFailedByItsExecutorsDeathKeepsItsArgumentsForTheGrace() {
    ByteString arg = submitWithArg("doomed", 0);
    raylet.grant();
    streams.last().breakIt();
    assertEquals(ErrorKind.WORKER_CRASHED, finisher.failed.get("doomed").getKind());
    assertEquals(1, finisher.counted(arg), "failed, but the argument is still counted");
    clock.advanceMs(TaskFinisher.ARGS_GRACE_MS - 1);
    assertEquals(1, finisher.counted(arg), "not before two death-watch rounds");
    clock.advanceMs(1);
    assertEquals(0, finisher.counted(arg), "released after the grace, exactly once");
  }

  @Test
  void aTaskRetriedAfterItsExecutorsDeathKeepsItsArgumentsPastAQuickRetry() {
    ByteString arg = submitWithArg("again", 1);
    raylet.grant();
    streams.last().breakIt();
    raylet.grant();
    FakePushStreams.Stream s = streams.last();
    s.succeed(s.tasks().get(0));
    assertEquals(List.of("again"), finisher.completedNames());
    assertEquals(1, finisher.counted(arg), "the retry completed, the dead attempt's hold remains");
    clock.advanceMs(TaskFinisher.ARGS_GRACE_MS);
    assertEquals(0, finisher.counted(arg));
  }

  @Test
  void aNormalResultReleasesTheArgumentsAtOnce() {
    ByteString arg = submitWithArg("ok", 0);
    raylet.grant();
    FakePushStreams.Stream s = streams.last();
    s.succeed(s.tasks().get(0));
    assertEquals(0, finisher.counted(arg));
    assertTrue(finisher.held.isEmpty());
  }
}
