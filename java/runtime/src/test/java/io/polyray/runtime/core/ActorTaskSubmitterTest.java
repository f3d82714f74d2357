package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.ActorInfo;
import io.polyray.runtime.proto.ActorState;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * ActorTaskSubmitter in process: a scripted GCS tells actor states, fake streams stand for
 * the actor's worker. Checks that calls leave in submission order, wait for ALIVE, and
 * fail with ACTOR_DIED once the actor is dead.
 */
class ActorTaskSubmitterTest {
  private static final ByteString ACTOR = ByteString.copyFrom(new byte[RuntimeSpec.IDS_ACTOR_BYTES]);
  private static final Address WORKER = Address.newBuilder().setHost("actor-host").setPort(9100)
      .setWorkerId(ByteString.copyFromUtf8("actor-worker")).build();

  private final FakeActorDirectory gcs = new FakeActorDirectory();
  private final FakePushStreams streams = new FakePushStreams();
  private final RecordingFinisher finisher = new RecordingFinisher();
  private final ManualScheduler clock = new ManualScheduler();
  private final ActorTaskSubmitter submitter = new ActorTaskSubmitter(gcs, streams, finisher, clock, () -> false);
  private int seq;

  private PendingTask call(String name) {
    return call(name, 0);
  }

  private PendingTask call(String name, int maxTaskRetries) {
    seq++;
    ByteString taskId = ByteString.copyFrom(new byte[] {(byte) seq})
        .concat(ByteString.copyFrom(new byte[RuntimeSpec.IDS_TASK_BYTES - 1]));
    return new PendingTask(TaskSpec.newBuilder().setTaskId(taskId).setName(name).setType(TaskType.ACTOR_TASK)
        .setActorId(ACTOR).setSequenceNo(seq).setMaxTaskRetries(maxTaskRetries).build(), List.of());
  }

  private static ActorInfo state(ActorState s) {
    ActorInfo.Builder b = ActorInfo.newBuilder().setActorId(ACTOR).setState(s);
    if (s == ActorState.ALIVE) {
      b.setAddress(WORKER);
    }
    return b.build();
  }

  private static List<String> names(List<TaskSpec> specs) {
    List<String> out = new ArrayList<>();
    for (TaskSpec s : specs) {
      out.add(s.getName());
    }
    return out;
  }

  /** A call whose argument is not ready (the resolver holds its callback under the call's name). */
  private PendingTask callWithArg(String name) {
    PendingTask t = call(name);
    return new PendingTask(t.spec, List.of(ByteString.copyFromUtf8(name + "-arg")));
  }

  @Test
  void callsWaitingForArgumentsHoldOnlyThisCallersLaterCallsAndLeaveInOrder() {
    java.util.Map<String, Runnable> pendingArgs = new java.util.HashMap<>();
    submitter.setResolver((t, onReady) -> {
      if (t.spec.getName().startsWith("ready")) {
        return false;
      }
      pendingArgs.put(t.spec.getName(), onReady);
      return true;
    });
    submitter.submit(call("c0"));
    gcs.answer(state(ActorState.ALIVE));
    FakePushStreams.Stream s = streams.last();
    submitter.submit(callWithArg("f"));
    submitter.submit(call("g"));
    submitter.submit(callWithArg("h"));
    submitter.submit(callWithArg("ready1"));
    assertEquals(List.of("c0"), names(s.tasks()), "f waits for its argument; g, h and ready1 behind it");
    pendingArgs.get("h").run();
    assertEquals(List.of("c0"), names(s.tasks()), "h is ready but f before it is not");
    pendingArgs.get("f").run();
    assertEquals(List.of("c0", "f", "g", "h", "ready1"), names(s.tasks()), "in submission order");
    submitter.submit(call("i"));
    assertEquals("i", names(s.tasks()).get(5), "nothing waits any more: straight out");
  }

  @Test
  void deadActorFailsCallsStillWaitingForArguments() {
    java.util.Map<String, Runnable> pendingArgs = new java.util.HashMap<>();
    submitter.setResolver((t, onReady) -> {
      pendingArgs.put(t.spec.getName(), onReady);
      return true;
    });
    submitter.submit(callWithArg("f"));
    submitter.submit(call("g"));
    gcs.answer(state(ActorState.DEAD));
    assertEquals(List.of("f", "g"), new ArrayList<>(finisher.failed.keySet()));
    pendingArgs.get("f").run(); // late: nothing more happens
    assertTrue(streams.opened.isEmpty());
  }

  @Test
  void callsBeforeAliveWaitThenLeaveInOrder() {
    submitter.submit(call("c1"));
    submitter.submit(call("c2"));
    submitter.submitAll(List.of(call("c3"), call("c4")));
    assertTrue(streams.opened.isEmpty(), "no stream before the actor is up");
    assertEquals(1, gcs.calls.size(), "one watch of the actor, however many calls wait");
    gcs.answer(state(ActorState.PENDING_CREATION));
    assertTrue(streams.opened.isEmpty(), "still starting");
    gcs.answer(state(ActorState.ALIVE));
    assertEquals(1, streams.opened.size());
    FakePushStreams.Stream s = streams.last();
    assertEquals(WORKER, s.worker);
    assertEquals(1, s.sent.size(), "the waiting calls leave together");
    assertEquals(List.of("c1", "c2", "c3", "c4"), names(s.tasks()));
  }

  @Test
  void callsToALiveActorArePushedInSubmissionOrder() {
    submitter.submit(call("c0"));
    gcs.answer(state(ActorState.ALIVE));
    FakePushStreams.Stream s = streams.last();
    List<String> expected = new ArrayList<>(List.of("c0"));
    for (int i = 1; i <= 20; i++) {
      if (i % 3 == 0) {
        submitter.submitAll(List.of(call("c" + i), call("c" + i + "b")));
        expected.add("c" + i);
        expected.add("c" + i + "b");
      } else {
        submitter.submit(call("c" + i));
        expected.add("c" + i);
      }
    }
    assertEquals(expected, names(s.tasks()));
    assertEquals(1, streams.opened.size(), "one stream per actor");
    // Results may come in any order; each call completes once.
    List<TaskSpec> sent = s.tasks();
    List<TaskSpec> reversed = new ArrayList<>(sent);
    java.util.Collections.reverse(reversed);
    s.succeed(reversed);
    assertEquals(sent.size(), finisher.completed.size());
  }

  @Test
  void deadActorFailsPendingAndLaterCallsWithActorDied() {
    submitter.submit(call("c1"));
    submitter.submit(call("c2"));
    ErrorRecord cause = ErrorRecord.newBuilder().setKind(ErrorKind.ACTOR_DIED).setMessage("the actor was killed")
        .build();
    gcs.answer(state(ActorState.DEAD).toBuilder().setDeathCause(cause).build());
    assertTrue(streams.opened.isEmpty());
    for (String n : List.of("c1", "c2")) {
      ErrorRecord r = finisher.failed.get(n);
      assertEquals(ErrorKind.ACTOR_DIED, r.getKind(), n);
      assertEquals("the actor was killed", r.getMessage(), "the death cause's message reaches the caller");
    }
    submitter.submit(call("c3"));
    assertEquals(ErrorKind.ACTOR_DIED, finisher.failed.get("c3").getKind(), "a call after death fails at once");
    assertEquals(1, gcs.calls.size(), "a dead actor is not watched again");
  }

  @Test
  void brokenStreamOfADeadActorFailsCallsInFlight() {
    submitter.submit(call("c1"));
    gcs.answer(state(ActorState.ALIVE));
    FakePushStreams.Stream s = streams.last();
    submitter.submit(call("c2"));
    s.succeed(s.tasks().get(0));
    s.breakIt();
    assertTrue(finisher.failed.isEmpty(), "nothing fails before the GCS says what happened");
    gcs.answer(state(ActorState.DEAD));
    assertEquals(List.of("c1"), finisher.completedNames());
    assertEquals(ErrorKind.ACTOR_DIED, finisher.failed.get("c2").getKind());
  }

  @Test
  void creationArgumentsAreReleasedOnceTheActorIsUp() {
    List<ByteString> args = List.of(ByteString.copyFromUtf8("arg"));
    submitter.watchCreation(ACTOR, args);
    assertTrue(finisher.released.isEmpty(), "held while the actor starts");
    gcs.answer(state(ActorState.ALIVE));
    assertEquals(List.of(args), finisher.released);
  }

  private static ActorInfo aliveAt(int port) {
    return state(ActorState.ALIVE).toBuilder().setAddress(WORKER.toBuilder().setPort(port)).build();
  }

  @Test
  void callsInFlightAreRetriedOnTheNextIncarnationFirstAndInOrder() {
    submitter.submit(call("a", -1));
    gcs.answer(state(ActorState.ALIVE));
    FakePushStreams.Stream s1 = streams.last();
    submitter.submit(call("b", 1));
    submitter.submit(call("c", 0));
    submitter.submit(call("d", 2));
    s1.succeed(s1.tasks().get(0));
    s1.breakIt();
    gcs.answer(state(ActorState.RESTARTING));
    assertEquals(List.of("c"), new ArrayList<>(finisher.failed.keySet()), "only the call without retries fails");
    assertTrue(finisher.failed.get("c").getMessage().contains("max_task_retries=0"));
    submitter.submit(call("e", 0)); // made while restarting: waits, spends nothing
    gcs.answer(aliveAt(9200));
    FakePushStreams.Stream s2 = streams.last();
    assertEquals(2, streams.opened.size());
    assertEquals(List.of("b", "d", "e"), names(s2.tasks()), "retried calls first, in sequence order");
    List<TaskSpec> sent = s2.tasks();
    assertEquals(List.of(1, 1, 0), List.of(sent.get(0).getAttempt(), sent.get(1).getAttempt(),
        sent.get(2).getAttempt()));
    assertEquals(List.of(2L, 4L, 5L), List.of(sent.get(0).getSequenceNo(), sent.get(1).getSequenceNo(),
        sent.get(2).getSequenceNo()), "sequence numbers are kept");
    s2.breakIt();
    gcs.answer(aliveAt(9300)); // the GCS already has the next incarnation up
    FakePushStreams.Stream s3 = streams.last();
    assertEquals(List.of("d"), names(s3.tasks()));
    assertEquals(2, s3.tasks().get(0).getAttempt());
    s3.succeed(s3.tasks());
    assertEquals(List.of("a", "d"), finisher.completedNames());
    assertTrue(finisher.failed.keySet().containsAll(List.of("b", "c", "e")));
  }

  @Test
  void deathAfterABreakFailsRetriableCallsWithTheReason() {
    submitter.submit(call("m1", -1));
    gcs.answer(state(ActorState.ALIVE));
    streams.last().breakIt();
    ErrorRecord cause = ErrorRecord.newBuilder().setKind(ErrorKind.ACTOR_DIED).setMessage("exited with code 3")
        .setReason(io.polyray.runtime.proto.ErrorReason.REASON_PROCESS_EXITED).setExitCode(3).build();
    gcs.answer(state(ActorState.DEAD).toBuilder().setDeathCause(cause).build());
    ErrorRecord r = finisher.failed.get("m1");
    assertEquals(io.polyray.runtime.proto.ErrorReason.REASON_PROCESS_EXITED, r.getReason());
    assertEquals(3, r.getExitCode());
  }

  @Test
  void callsInFlightOnADeadActorKeepTheirArgumentsForTheGrace() {
    // docs/ownership.md, Deaths: the actor may have handed an argument on.
    submitter.submit(call("c1"));
    gcs.answer(state(ActorState.ALIVE));
    FakePushStreams.Stream s = streams.last();
    PendingTask c2 = call("c2");
    ByteString arg = ByteString.copyFromUtf8("arg-c2");
    submitter.submit(new PendingTask(c2.spec, List.of(arg)));
    s.succeed(s.tasks().get(0));
    s.breakIt();
    gcs.answer(state(ActorState.DEAD));
    assertEquals(ErrorKind.ACTOR_DIED, finisher.failed.get("c2").getKind());
    assertEquals(1, finisher.counted(arg), "failed, but its argument is still counted");
    clock.advanceMs(TaskFinisher.ARGS_GRACE_MS - 1);
    assertEquals(1, finisher.counted(arg));
    clock.advanceMs(1);
    assertEquals(0, finisher.counted(arg));
  }

  @Test
  void cancelDropsACallNotSentAndLetsTheOnesBehindItGoAndNamesTheActorOfOneSent() {
    java.util.Map<String, Runnable> pendingArgs = new java.util.HashMap<>();
    submitter.setResolver((t, onReady) -> {
      pendingArgs.put(t.spec.getName(), onReady);
      return true;
    });
    submitter.submit(call("c0"));
    gcs.answer(state(ActorState.ALIVE));
    FakePushStreams.Stream s = streams.last();
    PendingTask f = callWithArg("f");
    submitter.submit(f);
    submitter.submit(call("g"));
    assertTrue(submitter.knows(f.taskId()));
    assertEquals(null, submitter.cancel(f.taskId()), "not sent: dropped here");
    assertEquals(ErrorKind.TASK_CANCELLED, finisher.failed.get("f").getKind());
    assertEquals(List.of("c0", "g"), names(s.tasks()), "g, held behind f, goes on");
    assertEquals(WORKER, submitter.cancel(s.tasks().get(0).getTaskId()), "sent: the actor is asked");
    pendingArgs.get("f").run(); // late: nothing more is sent
    assertEquals(List.of("c0", "g"), names(s.tasks()));
    s.succeed(s.tasks().get(0), s.tasks().get(1));
    assertEquals(ActorTaskSubmitter.NOT_FOUND, submitter.cancel(s.tasks().get(0).getTaskId()), "finished");
    assertTrue(!submitter.knows(f.taskId()));
  }
}
