package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.StreamObserver;
import io.polyray.runtime.core.PushPortClient;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.RegisterWorkerRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java worker's push port (docs/protocol.md §7.2) spoken by hand over a real socket:
 * length-prefixed PushTasksRequest frames in, PushTasksReply frames out, against the same
 * in-process worker, fake raylet and real store as {@link WorkerIntegrationTest}.
 */
class PushPortTest {
  @BeforeAll
  static void start() throws Exception {
    WorkerIntegrationTest.start();
  }

  @AfterAll
  static void stop() throws Exception {
    WorkerIntegrationTest.stop();
  }

  static int pushPort() {
    return WorkerIntegrationTest.worker.address().getPushPort();
  }

  static void writeFrame(OutputStream out, byte[] body) throws IOException {
    int n = body.length;
    out.write(new byte[] {(byte) n, (byte) (n >>> 8), (byte) (n >>> 16), (byte) (n >>> 24)});
    out.write(body);
    out.flush();
  }

  /** Sends the cluster token first (PushHello, docs/security.md); the socket. */
  static Socket hello(Socket s) throws IOException {
    s.getOutputStream().write(Auth.helloFrame());
    return s;
  }

  /** Reads reply frames until the worker closes the connection. */
  static List<TaskResult> readUntilClosed(Socket s) throws IOException {
    DataInputStream in = new DataInputStream(s.getInputStream());
    List<TaskResult> all = new ArrayList<>();
    while (true) {
      int n;
      try {
        n = Integer.reverseBytes(in.readInt());
      } catch (EOFException e) {
        return all;
      }
      byte[] body = new byte[n];
      in.readFully(body);
      all.addAll(PushTasksReply.parseFrom(body).getResultsList());
    }
  }

  @Test
  void theWorkerRegistersItsPushPort() {
    assertTrue(pushPort() > 0);
    RegisterWorkerRequest r = WorkerIntegrationTest.node.registrations.get(0);
    assertEquals(pushPort(), r.getPushPort());
  }

  @Test
  void tasksInSeveralFramesGetTheirResultsAndTheWorkerClosesAfterTheLast() throws Exception {
    List<TaskSpec> ts = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      ts.add(WorkerIntegrationTest.task(WorkerIntegrationTest.CALC, "add", i, 1));
    }
    try (Socket s = hello(new Socket("127.0.0.1", pushPort()))) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      writeFrame(out, PushTasksRequest.newBuilder().addAllTasks(ts.subList(0, 10)).build().toByteArray());
      writeFrame(out, PushTasksRequest.newBuilder().addAllTasks(ts.subList(10, 40)).build().toByteArray());
      s.shutdownOutput(); // nothing more: the worker closes once every result is out
      List<TaskResult> all = readUntilClosed(s);
      assertEquals(40, all.size());
      for (int i = 0; i < 40; i++) {
        assertEquals(ts.get(i).getTaskId(), all.get(i).getTaskId());
        assertEquals(i + 1L, WorkerIntegrationTest.value(all.get(i)));
      }
    }
  }

  @Test
  void aBadFrameEndsItsConnectionAndTheWorkerStaysUp() throws Exception {
    try (Socket s = hello(new Socket("127.0.0.1", pushPort()))) {
      s.setSoTimeout(30_000);
      writeFrame(s.getOutputStream(), new byte[] {(byte) 0xff, (byte) 0xff, 0x01});
      try {
        assertEquals(-1, s.getInputStream().read(), "the worker answered a bad frame");
      } catch (SocketException e) {
        // reset by the worker: closed as well
      }
    }
    try (Socket s = hello(new Socket("127.0.0.1", pushPort()))) {
      s.setSoTimeout(30_000);
      s.getOutputStream().write(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f}); // 2 GiB announced
      s.getOutputStream().flush();
      assertThrows(IOException.class, () -> {
        if (s.getInputStream().read() == -1) {
          throw new EOFException("closed");
        }
      });
    }
    assertEquals(3L, WorkerIntegrationTest.value(
        WorkerIntegrationTest.run(WorkerIntegrationTest.task(WorkerIntegrationTest.CALC, "add", 1, 2)).get(0)));
  }

  @Test
  void theJavaCallersPushPortClientGetsEveryResultThenACleanEnd() throws Exception {
    List<TaskSpec> ts = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      ts.add(WorkerIntegrationTest.task(WorkerIntegrationTest.CALC, "add", i, 10));
    }
    ExecutorService io = Executors.newSingleThreadExecutor();
    try {
      List<TaskResult> all = new CopyOnWriteArrayList<>();
      CompletableFuture<Throwable> end = new CompletableFuture<>();
      PushPortClient c = PushPortClient.open("127.0.0.1", pushPort(), new StreamObserver<PushTasksReply>() {
        @Override
        public void onNext(PushTasksReply r) {
          all.addAll(r.getResultsList());
        }

        @Override
        public void onError(Throwable t) {
          end.complete(t);
        }

        @Override
        public void onCompleted() {
          end.complete(null);
        }
      }, io);
      c.onNext(PushTasksRequest.newBuilder().addTasks(ts.get(0)).build());
      c.onNext(PushTasksRequest.newBuilder().addAllTasks(ts.subList(1, 10)).build());
      c.onNext(PushTasksRequest.newBuilder().addAllTasks(ts.subList(10, 25)).build());
      c.onCompleted(); // the worker closes once every result is out: a clean end
      assertNull(end.get(30, TimeUnit.SECONDS));
      assertEquals(25, all.size());
      for (int i = 0; i < 25; i++) {
        assertEquals(ts.get(i).getTaskId(), all.get(i).getTaskId());
        assertEquals(i + 10L, WorkerIntegrationTest.value(all.get(i)));
      }
    } finally {
      io.shutdownNow();
    }
  }
}
