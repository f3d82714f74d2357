package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.polyray.runtime.proto.AddTaskEventsRequest;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskEventState;
import io.polyray.runtime.proto.TaskSpec;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Java task event buffer ({@link TaskEvents}): the same cases as Python's
 * tests/core/unit/test_task_events.py and C++'s core_task_events_test, with a fake sink.
 */
class TaskEventsTest {
  private static final ByteString JOB = ByteString.copyFrom(new byte[] {1, 0, 0, 0});
  private final List<AddTaskEventsRequest> sent = new ArrayList<>();
  private boolean fail;

  private TaskEvents events(int maxBuffered, int maxPerBatch) {
    return new TaskEvents(() -> ByteString.copyFrom(new byte[28]), ByteString.copyFromUtf8("w".repeat(28)),
        (req, reply) -> {
          if (fail) {
            reply.onError(Status.UNAVAILABLE.asRuntimeException());
            return;
          }
          sent.add(req);
          reply.onCompleted();
        }, maxBuffered, maxPerBatch);
  }

  private static TaskSpec spec(String name, int n) {
    byte[] id = new byte[24];
    id[0] = (byte) n;
    System.arraycopy(JOB.toByteArray(), 0, id, 20, 4);
    return TaskSpec.newBuilder().setTaskId(ByteString.copyFrom(id)).setJobId(JOB).setName(name)
        .setLanguage(Language.JAVA).build();
  }

  private int eventCount() {
    return sent.stream().mapToInt(AddTaskEventsRequest::getEventsCount).sum();
  }

  @Test
  void sentInBatches() {
    TaskEvents ev = events(100, 3);
    for (int i = 0; i < 7; i++) {
      ev.record(TaskEventState.SUBMITTED, spec("f", i));
    }
    ev.flush();
    assertEquals(List.of(3, 3, 1), sent.stream().map(AddTaskEventsRequest::getEventsCount).toList());
    assertEquals(TaskEventState.SUBMITTED, sent.get(0).getEvents(0).getState());
    assertTrue(sent.get(0).getEvents(0).getTimestampNs() > 0);
    assertEquals(7, ev.sent());
    ev.flush();
    assertEquals(3, sent.size()); // nothing buffered: no call
  }

  @Test
  void fullBufferDropsAndFailedSendsAreCounted() {
    TaskEvents ev = events(4, 100);
    for (int i = 0; i < 10; i++) {
      ev.record(TaskEventState.SUBMITTED, spec("f", i));
    }
    assertEquals(4, ev.buffered());
    fail = true;
    ev.flush();
    fail = false;
    ev.record(TaskEventState.RUNNING, spec("late", 11));
    ev.flush();
    assertEquals(1, sent.size());
    assertEquals(1, sent.get(0).getEventsCount());
    assertEquals(10, sent.get(0).getDropped(0).getCount());
  }

  @Test
  void endStatesAndClose() {
    TaskEvents ev = events(100, 100);
    ev.ended(spec("ok", 1), List.of(ReturnObject.newBuilder()
        .setValue(Envelope.newBuilder().setFormat(Format.FORMAT_XLANG)).build()));
    ErrorRecord rec = ErrorRecord.newBuilder().setKind(ErrorKind.TASK_ERROR)
        .setTypeName("java.lang.IllegalStateException").setMessage("boom").build();
    ev.ended(spec("bad", 2), List.of(ReturnObject.newBuilder().setValue(Envelope.newBuilder()
        .setFormat(Format.FORMAT_ERROR).setBody(rec.toByteString())).build()));
    ev.failed(spec("crashed", 3), ErrorRecord.newBuilder().setKind(ErrorKind.WORKER_CRASHED).build());
    ev.close();
    assertEquals(3, eventCount());
    AddTaskEventsRequest r = sent.get(0);
    assertEquals(TaskEventState.FINISHED, r.getEvents(0).getState());
    assertEquals(TaskEventState.FAILED, r.getEvents(1).getState());
    assertEquals("java.lang.IllegalStateException: boom", r.getEvents(1).getErrorMessage());
    assertEquals(ErrorKind.WORKER_CRASHED, r.getEvents(2).getErrorKind());
  }

  @Test
  void aWorkersEventCarriesTheOwnersTimesFromTheSpec() {
    // A Python owner writes its times into the spec and reports no event of a task that runs:
    // the worker's one event (RUNNING folded into FINISHED) carries them to the GCS.
    TaskEvents ev = events(100, 100);
    TaskSpec s = spec("f", 5).toBuilder().setSubmittedNs(111L).setPendingArgsNs(222L).setPendingNodeNs(333L).build();
    TaskEvents.Item running = ev.running(s);
    ev.ended(s, List.of(), running);
    TaskEvents.Item other = ev.running(spec("g", 6));
    ev.ended(spec("g", 6), List.of(), other);
    ev.flush();
    assertEquals(2, eventCount());
    var e = sent.get(0).getEvents(0);
    assertEquals(TaskEventState.FINISHED, e.getState());
    assertEquals(TaskEventState.RUNNING, e.getPriorState());
    assertEquals(List.of(111L, 222L, 333L), List.of(e.getSubmittedNs(), e.getPendingArgsNs(), e.getPendingNodeNs()));
    assertEquals(0L, sent.get(0).getEvents(1).getSubmittedNs()); // no owner times: zeros
  }

  @Test
  void anOwnerReportsOnlyATaskThatWaitsAWholeInterval() {
    // The owner's times go in the spec it pushes; a task whose result comes back costs the
    // owner no event; one still waiting an interval later gets PENDING_NODE, once.
    TaskEvents ev = events(100, 100);
    TaskSpec quick = ev.ownerQueued(spec("quick", 1), 1234L);
    TaskSpec slow = ev.ownerQueued(spec("slow", 2), 1234L);
    assertEquals(1234L, quick.getSubmittedNs());
    assertTrue(quick.getPendingNodeNs() >= 1234L);
    ev.ownerDone(quick);
    ev.takePending(slow.getPendingNodeNs() + 10, 1_000_000_000L); // not a whole interval yet
    assertEquals(0, ev.buffered());
    ev.takePending(slow.getPendingNodeNs() + 1_000_000_000L, 1_000_000_000L);
    ev.takePending(slow.getPendingNodeNs() + 5_000_000_000L, 1_000_000_000L); // once
    ev.flush();
    assertEquals(1, eventCount());
    var e = sent.get(0).getEvents(0);
    assertEquals("slow", e.getName());
    assertEquals(TaskEventState.PENDING_NODE, e.getState());
    assertEquals(slow.getPendingNodeNs(), e.getTimestampNs());
    assertEquals(1234L, e.getSubmittedNs());
    assertEquals(0, ev.pending());
  }

  @Test
  void twoEventsOfOneReporterFoldIntoOneUntilSent() {
    TaskEvents ev = events(100, 100);
    // Owner: PENDING_NODE with SUBMITTED folded in.
    TaskSpec owned = spec("f", 1);
    ev.queued(owned, 1234L);
    // Worker: FINISHED folded into RUNNING while not sent; FAILED likewise.
    TaskEvents.Item running = ev.running(spec("g", 2));
    ev.ended(spec("g", 2), List.of(ReturnObject.newBuilder()
        .setValue(Envelope.newBuilder().setFormat(Format.FORMAT_XLANG)).build()), running);
    ErrorRecord rec = ErrorRecord.newBuilder().setKind(ErrorKind.TASK_ERROR).setMessage("boom").build();
    TaskEvents.Item bad = ev.running(spec("h", 3));
    ev.ended(spec("h", 3), List.of(ReturnObject.newBuilder().setValue(Envelope.newBuilder()
        .setFormat(Format.FORMAT_ERROR).setBody(rec.toByteString())).build()), bad);
    // A RUNNING already sent: the end is a separate event.
    TaskEvents.Item sentAlready = ev.running(spec("k", 4));
    ev.flush();
    assertEquals(4, eventCount());
    AddTaskEventsRequest first = sent.get(0);
    assertEquals(TaskEventState.PENDING_NODE, first.getEvents(0).getState());
    assertEquals(TaskEventState.SUBMITTED, first.getEvents(0).getPriorState());
    assertEquals(1234L, first.getEvents(0).getPriorTimestampNs());
    assertEquals(TaskEventState.FINISHED, first.getEvents(1).getState());
    assertEquals(TaskEventState.RUNNING, first.getEvents(1).getPriorState());
    assertTrue(first.getEvents(1).getPriorTimestampNs() <= first.getEvents(1).getTimestampNs());
    assertEquals(TaskEventState.FAILED, first.getEvents(2).getState());
    assertEquals(TaskEventState.RUNNING, first.getEvents(2).getPriorState());
    assertEquals("boom", first.getEvents(2).getErrorMessage());
    assertEquals(TaskEventState.RUNNING, first.getEvents(3).getState());
    ev.ended(spec("k", 4), List.of(), sentAlready);
    ev.flush();
    assertEquals(5, eventCount());
    assertEquals(TaskEventState.FINISHED, sent.get(1).getEvents(0).getState());
    assertEquals(TaskEventState.TASK_STATE_UNKNOWN, sent.get(1).getEvents(0).getPriorState());
  }

  @Test
  void closeWaitsForAFlushInFlightThenSendsWhatCameAfter() throws Exception {
    List<AddTaskEventsRequest> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<io.grpc.stub.StreamObserver<io.polyray.runtime.proto.AddTaskEventsReply>> pending =
        new java.util.concurrent.CopyOnWriteArrayList<>();
    // A GCS that answers the first call only when told (the timer's flush in flight).
    TaskEvents ev = new TaskEvents(() -> ByteString.copyFrom(new byte[28]), ByteString.copyFromUtf8("w".repeat(28)),
        (req, reply) -> {
          got.add(req);
          if (got.size() == 1) {
            pending.add(reply);
          } else {
            reply.onCompleted();
          }
        }, 100, 100);
    ev.record(TaskEventState.RUNNING, spec("early", 1));
    ev.flush(); // in flight, unanswered
    ev.record(TaskEventState.FINISHED, spec("late", 2)); // after the flush took its batch
    Thread answer = new Thread(() -> {
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      pending.get(0).onCompleted();
    });
    answer.start();
    long t0 = System.nanoTime();
    ev.close(5000);
    long waitedMs = (System.nanoTime() - t0) / 1_000_000;
    answer.join();
    // close() waited for the first call's answer, then sent the event recorded after it.
    assertEquals(2, got.size());
    assertEquals("late", got.get(1).getEvents(0).getName());
    assertTrue(waitedMs >= 150 && waitedMs < 4000, "waited " + waitedMs + " ms");
    assertEquals(2, ev.sent());
  }
}
