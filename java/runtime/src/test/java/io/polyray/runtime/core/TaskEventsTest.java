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
import io.polyray.runtime.proto.TaskEvent;
import io.polyray.runtime.proto.TaskEventState;
import io.polyray.runtime.proto.TaskSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

  /**
   * A batch's events as TaskEvents: the TaskEvents first, then each 76-byte packed full record
   * read from the format gcs.proto gives (little-endian: task id, head index, attempt, state,
   * prior state, 2 zero bytes, time, prior time, submitted, pending args, pending node), with
   * its head's fields.
   */
  static List<TaskEvent> unpacked(AddTaskEventsRequest req) {
    List<TaskEvent> out = new ArrayList<>(req.getEventsList());
    byte[] blob = req.getPacked().getFullRecords().toByteArray();
    assertEquals(0, blob.length % 76);
    assertTrue(req.getPacked().getRecords().isEmpty());
    ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
    for (int at = 0; at < blob.length; at += 76) {
      int head = b.getInt(at + 24);
      assertTrue(head >= 0 && head < req.getPacked().getHeadsCount(), "head " + head);
      assertEquals(0, blob[at + 34]);
      assertEquals(0, blob[at + 35]);
      out.add(req.getPacked().getHeads(head).toBuilder().setTaskId(ByteString.copyFrom(blob, at, 24))
          .setAttempt(b.getInt(at + 28)).setStateValue(blob[at + 32]).setPriorStateValue(blob[at + 33])
          .setTimestampNs(b.getLong(at + 36)).setPriorTimestampNs(b.getLong(at + 44))
          .setSubmittedNs(b.getLong(at + 52)).setPendingArgsNs(b.getLong(at + 60))
          .setPendingNodeNs(b.getLong(at + 68)).build());
    }
    return out;
  }

  private List<TaskEvent> all() {
    List<TaskEvent> out = new ArrayList<>();
    for (AddTaskEventsRequest r : sent) {
      out.addAll(unpacked(r));
    }
    return out;
  }

  private List<TaskEvent> of(String name) {
    return all().stream().filter(e -> e.getName().equals(name)).toList();
  }

  private int eventCount() {
    return all().size();
  }

  @Test
  void sentInBatches() {
    TaskEvents ev = events(100, 3);
    for (int i = 0; i < 7; i++) {
      ev.record(TaskEventState.SUBMITTED, spec("f", i));
    }
    ev.flush();
    assertEquals(List.of(3, 3, 1), sent.stream().map(r -> unpacked(r).size()).toList());
    assertEquals(0, sent.get(0).getEventsCount()); // packed records, one head for the three
    assertEquals(1, sent.get(0).getPacked().getHeadsCount());
    TaskEvent e = unpacked(sent.get(0)).get(0);
    assertEquals(TaskEventState.SUBMITTED, e.getState());
    assertTrue(e.getTimestampNs() > 0);
    assertEquals("w".repeat(28), e.getWorkerId().toStringUtf8());
    assertEquals(ProcessHandle.current().pid(), e.getWorkerPid());
    assertEquals(spec("f", 0).getTaskId(), e.getTaskId());
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
    assertEquals(1, unpacked(sent.get(0)).size());
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
    assertEquals(2, sent.get(0).getEventsCount()); // the FAILED ones carry their error: TaskEvents
    assertEquals(TaskEventState.FINISHED, of("ok").get(0).getState());
    assertEquals(TaskEventState.FAILED, of("bad").get(0).getState());
    assertEquals("java.lang.IllegalStateException: boom", of("bad").get(0).getErrorMessage());
    assertEquals(ErrorKind.WORKER_CRASHED, of("crashed").get(0).getErrorKind());
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
    var e = of("f").get(0);
    assertEquals(TaskEventState.FINISHED, e.getState());
    assertEquals(TaskEventState.RUNNING, e.getPriorState());
    assertEquals(List.of(111L, 222L, 333L), List.of(e.getSubmittedNs(), e.getPendingArgsNs(), e.getPendingNodeNs()));
    assertEquals(0L, of("g").get(0).getSubmittedNs()); // no owner times: zeros
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
    var e = all().get(0);
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
    assertEquals(5, eventCount());
    TaskEvent f = of("f").get(0);
    assertEquals(TaskEventState.PENDING_NODE, f.getState());
    assertEquals(TaskEventState.SUBMITTED, f.getPriorState());
    assertEquals(1234L, f.getPriorTimestampNs());
    TaskEvent g = of("g").get(0);
    assertEquals(TaskEventState.FINISHED, g.getState());
    assertEquals(TaskEventState.RUNNING, g.getPriorState());
    assertTrue(0 < g.getPriorTimestampNs() && g.getPriorTimestampNs() <= g.getTimestampNs());
    // FAILED carries an error: a TaskEvent with the RUNNING record's time folded in.
    List<TaskEvent> h = of("h");
    assertEquals(2, h.size());
    assertEquals(TaskEventState.FAILED, h.get(0).getState());
    assertEquals(TaskEventState.RUNNING, h.get(0).getPriorState());
    assertEquals(h.get(1).getTimestampNs(), h.get(0).getPriorTimestampNs());
    assertEquals("boom", h.get(0).getErrorMessage());
    assertEquals(TaskEventState.RUNNING, of("k").get(0).getState());
    ev.ended(spec("k", 4), List.of(), sentAlready);
    ev.flush();
    assertEquals(6, eventCount());
    assertEquals(TaskEventState.FINISHED, of("k").get(1).getState());
    assertEquals(TaskEventState.TASK_STATE_UNKNOWN, of("k").get(1).getPriorState());
  }

  @Test
  void headsAreSentPerBatchAndAFullTableIsCompacted() {
    TaskEvents ev = events(100_000, 10_000);
    int n = TaskEvents.MAX_HEADS + 10;
    for (int i = 0; i < n; i++) {
      ev.record(TaskEventState.SUBMITTED, spec("f" + i, 1));
    }
    ev.flush();
    assertEquals(1, sent.size());
    assertEquals(TaskEvents.MAX_HEADS, sent.get(0).getPacked().getHeadsCount());
    assertEquals(10, sent.get(0).getEventsCount()); // kinds past the full table: TaskEvents, not lost
    assertEquals(1, of("f4100").size());
    ev.record(TaskEventState.SUBMITTED, spec("new", 2)); // compacted at the send: packed again
    ev.record(TaskEventState.SUBMITTED, spec("f3", 2));
    ev.flush();
    assertEquals(0, sent.get(1).getEventsCount());
    assertEquals(2, sent.get(1).getPacked().getHeadsCount());
    assertEquals(2, of("f3").size());
    assertEquals(n + 2, ev.sent());
  }

  @Test
  void aFailedSendCountsItsPackedEventsPerJob() {
    TaskEvents ev = events(100, 100);
    ev.record(TaskEventState.RUNNING, spec("a", 1));
    ev.record(TaskEventState.RUNNING, spec("b", 2));
    fail = true;
    ev.flush();
    fail = false;
    ev.flush();
    assertEquals(1, sent.size());
    assertEquals(0, eventCount());
    assertEquals(JOB, sent.get(0).getDropped(0).getJobId());
    assertEquals(2, sent.get(0).getDropped(0).getCount());
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
    assertEquals("late", unpacked(got.get(1)).get(0).getName());
    assertTrue(waitedMs >= 150 && waitedMs < 4000, "waited " + waitedMs + " ms");
    assertEquals(2, ev.sent());
  }
}
