package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.worker.Auth;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link PushPortClient} against a real socket server written here, which speaks the push
 * port's framing (docs/protocol.md §7.2) by hand: frames both ways, the clean end after a
 * half-close, and every way the stream breaks (the worker closing with results
 * outstanding, a reset, bad frames, a refused connect), each reported once as an
 * UNAVAILABLE error that says what happened; frames from several threads never interleave.
 */
@Timeout(60)
class PushPortClientTest {
  private ServerSocket server;
  private ExecutorService io;

  @BeforeEach
  void setUp() throws IOException {
    server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    io = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "test-io");
      t.setDaemon(true);
      return t;
    });
  }

  @AfterEach
  void tearDown() throws IOException {
    server.close();
    io.shutdownNow();
  }

  /** Records what the client reports, checking that the callbacks run on the io thread. */
  static final class Recorder implements StreamObserver<PushTasksReply> {
    final List<PushTasksReply> replies = new CopyOnWriteArrayList<>();
    final CompletableFuture<Throwable> end = new CompletableFuture<>(); // null: onCompleted
    final AtomicInteger ends = new AtomicInteger();
    final AtomicInteger repliesAfterEnd = new AtomicInteger();
    final AtomicInteger offThread = new AtomicInteger();

    private void onIoThread() {
      if (!Thread.currentThread().getName().equals("test-io")) {
        offThread.incrementAndGet();
      }
    }

    @Override
    public void onNext(PushTasksReply value) {
      onIoThread();
      if (ends.get() > 0) {
        repliesAfterEnd.incrementAndGet();
      }
      replies.add(value);
    }

    @Override
    public void onError(Throwable t) {
      onIoThread();
      ends.incrementAndGet();
      end.complete(t);
    }

    @Override
    public void onCompleted() {
      onIoThread();
      ends.incrementAndGet();
      end.complete(null);
    }

    Throwable awaitEnd() throws Exception {
      return end.get(30, TimeUnit.SECONDS);
    }

    /** The end was an UNAVAILABLE error; its description. */
    String awaitUnavailable() throws Exception {
      Throwable t = awaitEnd();
      assertNotNull(t, "expected an error, the stream completed");
      assertInstanceOf(StatusRuntimeException.class, t);
      Status s = Status.fromThrowable(t);
      assertEquals(Status.Code.UNAVAILABLE, s.getCode(), s.toString());
      return s.getDescription();
    }

    /** Once the end is in, nothing else comes (waits a little for strays). */
    void assertEndedOnce() throws InterruptedException {
      Thread.sleep(100);
      assertEquals(1, ends.get(), "onError/onCompleted exactly once");
      assertEquals(0, repliesAfterEnd.get(), "no reply after the end");
      assertEquals(0, offThread.get(), "callbacks run on the callbacks executor");
    }
  }

  // ------------------------------------------------------------ helpers

  static TaskSpec task(String id) {
    return TaskSpec.newBuilder().setTaskId(ByteString.copyFromUtf8(id)).setName(id).build();
  }

  static TaskSpec task(String id, int payload) {
    return task(id).toBuilder().setName(id + "/" + "x".repeat(payload)).build();
  }

  static PushTasksRequest request(TaskSpec... tasks) {
    return PushTasksRequest.newBuilder().addAllTasks(List.of(tasks)).build();
  }

  static TaskResult result(TaskSpec t, int payload) {
    return TaskResult.newBuilder().setTaskId(t.getTaskId()).addReturns(ReturnObject.newBuilder()
        .setValue(Envelope.newBuilder().setBody(ByteString.copyFrom(new byte[payload])))).build();
  }

  static void writeFrame(OutputStream out, byte[] body) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4 + body.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(body.length).put(body);
    out.write(b.array());
    out.flush();
  }

  static void writeHeader(OutputStream out, int n) throws IOException {
    out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(n).array());
    out.flush();
  }

  /** The next request frame, or null at the caller's half-close. */
  static PushTasksRequest readFrame(DataInputStream in) throws IOException {
    int n;
    try {
      n = Integer.reverseBytes(in.readInt());
    } catch (EOFException e) {
      return null;
    }
    assertTrue(n >= 0 && n < (64 << 20), "frame length " + n);
    byte[] body = new byte[n];
    in.readFully(body);
    return PushTasksRequest.parseFrom(body);
  }

  /** Runs {@code body} on the accepted connection, on a thread of its own. */
  CompletableFuture<Void> serve(ServerBody body) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try (Socket s = server.accept()) {
        s.setSoTimeout(30_000);
        DataInputStream in = new DataInputStream(s.getInputStream());
        // Every connection opens with the caller's PushHello (docs/security.md).
        byte[] hello = new byte[Integer.reverseBytes(in.readInt())];
        in.readFully(hello);
        assertTrue(Auth.helloOk(hello), "the first frame is not the PushHello");
        body.run(s, in, s.getOutputStream());
        done.complete(null);
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    }, "test-push-server");
    t.setDaemon(true);
    t.start();
    return done;
  }

  interface ServerBody {
    void run(Socket s, DataInputStream in, OutputStream out) throws Exception;
  }

  PushPortClient open(Recorder r) {
    return PushPortClient.open("127.0.0.1", server.getLocalPort(), r, io);
  }

  // ------------------------------------------------------------ tests

  @Test
  void framesBothWaysThenTheHalfCloseAndTheWorkersCloseEndTheStreamCleanly() throws Exception {
    List<PushTasksRequest> got = new ArrayList<>();
    CompletableFuture<Void> served = serve((s, in, out) -> {
      // Replies in frames of their own, one of them larger than the client's read buffer
      // (it spans reads), and two replies written in one go.
      for (PushTasksRequest req; (req = readFrame(in)) != null; ) {
        got.add(req);
        if (req.getTasksCount() == 1) {
          writeFrame(out, PushTasksReply.newBuilder().addResults(result(req.getTasks(0), 300_000)).build()
              .toByteArray());
        } else {
          for (TaskSpec t : req.getTasksList()) {
            writeFrame(out, PushTasksReply.newBuilder().addResults(result(t, 10)).build().toByteArray());
          }
        }
      }
      // EOF: the caller pushes nothing more, every result is out: close.
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a"), task("b"), task("c")));
    c.onNext(request(task("d", 200_000)));
    c.onNext(request(task("e"), task("f")));
    c.onCompleted();
    assertNull(r.awaitEnd(), () -> "expected a clean end, got " + r.end.join());
    served.get(30, TimeUnit.SECONDS);
    assertEquals(3, got.size());
    assertEquals(List.of("a", "b", "c"), ids(got.get(0)));
    assertEquals(List.of("d"), ids(got.get(1)));
    assertEquals(200_002, got.get(1).getTasks(0).getName().length());
    assertEquals(List.of("e", "f"), ids(got.get(2)));
    List<String> replied = new ArrayList<>();
    for (PushTasksReply reply : r.replies) {
      for (TaskResult res : reply.getResultsList()) {
        replied.add(res.getTaskId().toStringUtf8());
        if (res.getTaskId().toStringUtf8().equals("d")) {
          assertEquals(300_000, res.getReturns(0).getValue().getBody().size());
        }
      }
    }
    assertEquals(List.of("a", "b", "c", "d", "e", "f"), replied);
    r.assertEndedOnce();
    assertThrows(IllegalStateException.class, () -> c.onNext(request(task("late"))),
        "onNext after the half-close is a caller's bug, as with gRPC");
  }

  @Test
  void theWorkerClosingWithResultsOutstandingBreaksTheStream() throws Exception {
    CompletableFuture<Void> served = serve((s, in, out) -> {
      PushTasksRequest req = readFrame(in);
      writeFrame(out, PushTasksReply.newBuilder().addResults(result(req.getTasks(0), 1)).build().toByteArray());
      // ... and closes with the second task's result outstanding.
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a"), task("b")));
    String msg = r.awaitUnavailable();
    assertTrue(msg.contains("closed its push connection with 1 result(s) outstanding"), msg);
    assertTrue(msg.contains("127.0.0.1:" + server.getLocalPort()), msg);
    assertEquals(1, r.replies.size(), "the result read before the close is delivered");
    served.get(30, TimeUnit.SECONDS);
    r.assertEndedOnce();
    c.onNext(request(task("c"))); // dropped: the stream is broken (no throw, as with gRPC)
    c.onCompleted();
    r.assertEndedOnce();
  }

  @Test
  void theWorkerClosingBeforeTheHalfCloseBreaksTheStreamEvenWithNothingOutstanding() throws Exception {
    serve((s, in, out) -> {
      PushTasksRequest req = readFrame(in);
      writeFrame(out, PushTasksReply.newBuilder().addResults(result(req.getTasks(0), 1)).build().toByteArray());
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a")));
    String msg = r.awaitUnavailable();
    assertTrue(msg.endsWith("closed its push connection"), msg);
    assertEquals(1, r.replies.size());
    r.assertEndedOnce();
  }

  @Test
  void aResetBreaksTheStream() throws Exception {
    serve((s, in, out) -> {
      readFrame(in);
      s.setSoLinger(true, 0); // close with RST
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a")));
    String msg = r.awaitUnavailable();
    assertTrue(msg.contains("the push connection to the worker at 127.0.0.1:" + server.getLocalPort() + " broke"),
        msg);
    assertTrue(msg.toLowerCase().contains("reset"), msg);
    r.assertEndedOnce();
  }

  @Test
  void aFrameOverTheLimitIsABadFrame() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    serve((s, in, out) -> {
      readFrame(in);
      writeHeader(out, 1 << 30); // 1 GiB announced
      hold.await(30, TimeUnit.SECONDS); // keep the connection open: the client must notice by itself
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a")));
    String msg = r.awaitUnavailable();
    hold.countDown();
    assertTrue(msg.contains("bad frame from the worker at 127.0.0.1:" + server.getLocalPort()), msg);
    assertTrue(msg.contains("1073741824 bytes, more than the limit"), msg);
    r.assertEndedOnce();
  }

  @Test
  void aFrameThatIsNoPushTasksReplyIsABadFrame() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    serve((s, in, out) -> {
      readFrame(in);
      writeFrame(out, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x01, 0x02});
      hold.await(30, TimeUnit.SECONDS);
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a")));
    String msg = r.awaitUnavailable();
    hold.countDown();
    assertTrue(msg.startsWith("bad frame from the worker at 127.0.0.1:" + server.getLocalPort()), msg);
    assertEquals(0, r.replies.size());
    r.assertEndedOnce();
  }

  @Test
  void theWorkerClosingInTheMiddleOfAFrameBreaksTheStream() throws Exception {
    serve((s, in, out) -> {
      readFrame(in);
      writeHeader(out, 100);
      out.write(new byte[10]);
      out.flush();
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a")));
    c.onCompleted();
    String msg = r.awaitUnavailable();
    assertTrue(msg.contains("in the middle of a frame"), msg);
    r.assertEndedOnce();
  }

  @Test
  void aRefusedConnectEndsInAnErrorNamingHostAndPort() throws Exception {
    int port;
    try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = gone.getLocalPort();
    }
    Recorder r = new Recorder();
    PushPortClient c = PushPortClient.open("127.0.0.1", port, r, io);
    c.onNext(request(task("a"))); // queued before the connect failed, or dropped after: no throw
    String msg = r.awaitUnavailable();
    assertTrue(msg.contains("cannot connect to the worker's push port 127.0.0.1:" + port), msg);
    assertNotNull(r.end.join().getCause());
    c.onCompleted();
    r.assertEndedOnce();
  }

  @Test
  void theCallersOnErrorDropsTheConnectionAndEndsWithCancelled() throws Exception {
    CompletableFuture<Boolean> sawClose = new CompletableFuture<>();
    serve((s, in, out) -> {
      readFrame(in);
      try {
        sawClose.complete(in.read() == -1);
      } catch (IOException e) {
        sawClose.complete(true); // reset: closed as well
      }
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a")));
    Thread.sleep(50);
    c.onError(new RuntimeException("no more"));
    Throwable t = r.awaitEnd();
    assertEquals(Status.Code.CANCELLED, Status.fromThrowable(t).getCode());
    assertTrue(sawClose.get(30, TimeUnit.SECONDS));
    r.assertEndedOnce();
  }

  @Test
  void framesFromSeveralThreadsNeverInterleave() throws Exception {
    final int threads = 6;
    final int perThread = 150;
    CountDownLatch slow = new CountDownLatch(1);
    Map<Integer, Integer> lastSeq = new HashMap<>();
    AtomicInteger frames = new AtomicInteger();
    CompletableFuture<Void> served = serve((s, in, out) -> {
      // Read nothing at first, so that the socket's buffers fill up and writes queue.
      slow.await(30, TimeUnit.SECONDS);
      for (PushTasksRequest req; (req = readFrame(in)) != null; ) {
        frames.incrementAndGet();
        PushTasksReply.Builder reply = PushTasksReply.newBuilder();
        for (TaskSpec t : req.getTasksList()) {
          String[] parts = t.getTaskId().toStringUtf8().split("-");
          int thread = Integer.parseInt(parts[0]);
          int seq = Integer.parseInt(parts[1]);
          Integer last = lastSeq.put(thread, seq);
          assertEquals(last == null ? 0 : last + 1, seq, "thread " + thread + "'s tasks in order");
          assertTrue(t.getName().startsWith(t.getTaskId().toStringUtf8() + "/"), "intact task");
          reply.addResults(result(t, 1));
        }
        writeFrame(out, reply.build().toByteArray());
      }
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    List<Thread> ts = new ArrayList<>();
    CountDownLatch go = new CountDownLatch(1);
    for (int i = 0; i < threads; i++) {
      int thread = i;
      Thread t = new Thread(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int seq = 0; seq < perThread; seq++) {
          // Sizes from tiny to 40 KB, some requests with two tasks.
          int size = (seq * 7919 + thread * 104_729) % 40_000;
          TaskSpec a = task(thread + "-" + seq, size);
          if (seq % 5 == 0 && seq + 1 < perThread) {
            seq++;
            c.onNext(request(a, task(thread + "-" + seq, 3)));
          } else {
            c.onNext(request(a));
          }
        }
      }, "test-pusher-" + i);
      t.start();
      ts.add(t);
    }
    go.countDown();
    for (Thread t : ts) {
      t.join(30_000);
    }
    slow.countDown();
    c.onCompleted();
    assertNull(r.awaitEnd(), () -> "expected a clean end, got " + r.end.join());
    served.get(30, TimeUnit.SECONDS);
    int results = r.replies.stream().mapToInt(PushTasksReply::getResultsCount).sum();
    assertEquals(threads * perThread, results);
    assertEquals(threads, lastSeq.size());
    for (int i = 0; i < threads; i++) {
      assertEquals(perThread - 1, lastSeq.get(i));
    }
    assertEquals(frames.get(), r.replies.size());
    r.assertEndedOnce();
  }

  @Test
  void anAbortBeforeTheWorkerAnswersEndsTheStream() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    serve((s, in, out) -> {
      readFrame(in);
      hold.await(30, TimeUnit.SECONDS);
    });
    Recorder r = new Recorder();
    PushPortClient c = open(r);
    c.onNext(request(task("a")));
    c.abort();
    Throwable t = r.awaitEnd();
    hold.countDown();
    assertEquals(Status.Code.CANCELLED, Status.fromThrowable(t).getCode());
    r.assertEndedOnce();
  }

  private static List<String> ids(PushTasksRequest req) {
    List<String> out = new ArrayList<>();
    for (TaskSpec t : req.getTasksList()) {
      out.add(t.getTaskId().toStringUtf8());
    }
    return out;
  }
}
