package io.polyray.runtime.worker;

import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.RuntimeSpec;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * The worker's push port (docs/protocol.md, "Push port"): the PushTasks stream without
 * gRPC, as frames of a 4-byte little-endian length and a serialized PushTasksRequest
 * (caller to worker) or PushTasksReply (worker to caller) over TCP. A caller that speaks
 * it skips gRPC's threads and HTTP/2 framing on every call; the gRPC PushTasks stays for
 * the others.
 *
 * <p>Invariants: each connection has one reader thread, which queues its tasks on the
 * executor in frame order; every task taken gets one result on its connection, unless the
 * connection breaks (the caller then treats its calls in flight as lost). At most one
 * thread writes to a connection at a time; results that finish meanwhile leave together
 * in the next frame. The worker closes a connection once the caller has half-closed it
 * and every result is out.
 *
 * <p>Under {@code POLYRAY_USE_TLS=1} every connection speaks mutual TLS ({@link PushTls}): the
 * reader runs the handshake (at most {@value #TLS_HANDSHAKE_MS} ms) before the PushHello, and a
 * caller refused there (plaintext, no certificate, another CA's) is dropped like any bad
 * connection. The caller's half-close is a bare TCP end, read as the end.
 */
final class PushPort {
  /** The largest first frame (a PushHello with a token) a connection may open with. */
  private static final int MAX_HELLO = 4096;
  /** How long a caller may take to finish the TLS handshake. */
  static final int TLS_HANDSHAKE_MS = 10_000;

  private final TaskExecutor executor;
  private final ServerSocket server;

  /**
   * Listens on an ephemeral port of {@code host}.
   *
   * @param executor runs the tasks read from connections
   * @param host the node's IP
   * @throws IOException when it cannot bind
   */
  PushPort(TaskExecutor executor, String host) throws IOException {
    this.executor = executor;
    if (PushTls.enabled()) {
      PushTls.context(); // unusable TLS files fail the start here, naming the variable
    }
    this.server = new ServerSocket();
    server.bind(new InetSocketAddress(host, 0));
    Thread t = new Thread(this::acceptLoop, "polyray-push-accept");
    t.setDaemon(true);
    t.start();
  }

  /**
   * The port callers connect to.
   *
   * @return the bound port
   */
  int port() {
    return server.getLocalPort();
  }

  /** Stops accepting (connections already open run on). */
  void close() {
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
        s.setTcpNoDelay(true);
      } catch (IOException e) {
        continue; // closed (the loop ends) or one failed accept
      }
      Connection c = new Connection(s);
      Thread t = new Thread(c::readLoop, "polyray-push-" + s.getPort());
      t.setDaemon(true);
      t.start();
    }
  }

  /** One caller's connection. */
  private final class Connection {
    private volatile Socket socket;
    private OutputStream out;
    private ArrayList<TaskResult> ready = new ArrayList<>();
    private int pending;
    private boolean writing;
    private boolean halfClosed;
    private boolean broken;

    Connection(Socket socket) {
      this.socket = socket;
    }

    void readLoop() {
      // Not try-with-resources: closing a socket's input stream closes the socket, and
      // results still go out after the caller's half-close.
      try {
        if (PushTls.enabled()) {
          javax.net.ssl.SSLSocket ssl = PushTls.server(socket);
          socket = ssl;
          ssl.setSoTimeout(TLS_HANDSHAKE_MS);
          ssl.startHandshake();
          ssl.setSoTimeout(0);
        }
        InputStream raw = socket.getInputStream();
        out = socket.getOutputStream();
        DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 16));
        // The first frame is the caller's PushHello: a connection without the cluster
        // token is closed before any task is read (docs/security.md).
        awaitInput(in);
        int h;
        try {
          h = Integer.reverseBytes(in.readInt());
        } catch (EOFException e) {
          h = -1;
        }
        if (h < 0 || h > MAX_HELLO) {
          throw new IOException("refused: no PushHello first");
        }
        byte[] hello = new byte[h];
        in.readFully(hello);
        if (!Auth.helloOk(hello)) {
          throw new IOException("refused: no or wrong auth token in its PushHello");
        }
        LeaseProofs guard = LeaseProofs.PROCESS;
        LeaseProofs.StreamLease lease = LeaseProofs.StreamLease.none();
        while (true) {
          long waitStart = System.nanoTime();
          awaitInput(in);
          int n;
          try {
            n = Integer.reverseBytes(in.readInt()); // frames are little-endian
          } catch (EOFException e) {
            break; // the caller pushes nothing more
          }
          Spin.record(System.nanoTime() - waitStart);
          if (n < 0 || n > RuntimeSpec.RPC_MAX_MESSAGE_BYTES) {
            throw new IOException("a push frame announces " + Integer.toUnsignedString(n)
                + " bytes, more than the limit of " + RuntimeSpec.RPC_MAX_MESSAGE_BYTES);
          }
          byte[] body = new byte[n];
          in.readFully(body);
          PushTasksRequest req = PushTasksRequest.parseFrom(body);
          try {
            Validation.checkPush(req);
          } catch (Validation.InvalidInput e) {
            throw new IOException(e.getMessage());
          }
          lease = guard.open(req, lease);
          synchronized (this) {
            pending += req.getTasksCount();
          }
          for (TaskSpec spec : req.getTasksList()) {
            try {
              Validation.checkTaskSpec(spec);
            } catch (Validation.InvalidInput e) {
              if (!Validation.addressable(spec)) {
                throw new IOException("a task that cannot be answered: " + e.getMessage());
              }
              System.err.println("polyray: Java worker: rejecting a pushed task: " + e.getMessage());
              reply(Validation.invalidTaskResult(spec, e, "java"));
              continue;
            }
            String why = guard.enabled() ? guard.refusal(lease, spec) : null;
            if (why != null) {
              System.err.println("polyray: Java worker: refusing a pushed task: " + why);
              reply(LeaseProofs.refusedResult(spec, why, "java"));
              continue;
            }
            executor.enqueue(spec, this::reply);
          }
        }
      } catch (IOException | RuntimeException | LinkageError e) {
        // Bad input, or a failure while taking a task: this connection ends (its
        // caller sees it close), never silently hangs, and the worker keeps serving.
        synchronized (this) {
          if (!broken) {
            System.err.println("polyray: dropping a push connection from " + socket.getRemoteSocketAddress()
                + ": " + e);
          }
          broken = true;
          ready.clear();
        }
      }
      synchronized (this) {
        halfClosed = true;
      }
      closeIfDone();
    }

    /**
     * Polls for the next frame while {@link Spin} says it pays, before the blocking read sleeps: in a
     * sync loop of calls it comes meanwhile, and the reader is not woken from sleep.
     */
    private void awaitInput(DataInputStream in) throws IOException {
      if (in.available() > 0) {
        return;
      }
      long budget = Spin.budgetNanos();
      if (budget > 0 && Spin.acquire()) {
        try {
          long end = System.nanoTime() + budget;
          while (System.nanoTime() < end) {
            Spin.pause();
            if (in.available() > 0) {
              return;
            }
          }
        } finally {
          Spin.release();
        }
      }
    }

    /** A task's result (task thread): written now, or with the next frame if one is being written. */
    void reply(TaskResult r) {
      synchronized (this) {
        if (broken) {
          if (r.getGeneratorItem() == 0) {
            pending--; // the caller is gone; it fails these tasks itself
          }
          return;
        }
        ready.add(r);
        if (writing) {
          return;
        }
        writing = true;
      }
      while (true) {
        List<TaskResult> batch;
        synchronized (this) {
          if (ready.isEmpty() || broken) {
            writing = false;
            break;
          }
          batch = ready;
          ready = new ArrayList<>();
          pending -= CoreWorkerServiceImpl.ended(batch);
        }
        byte[] body = PushTasksReply.newBuilder().addAllResults(batch).build().toByteArray();
        byte[] frame = new byte[4 + body.length];
        int n = body.length;
        frame[0] = (byte) n;
        frame[1] = (byte) (n >>> 8);
        frame[2] = (byte) (n >>> 16);
        frame[3] = (byte) (n >>> 24);
        System.arraycopy(body, 0, frame, 4, n);
        try {
          out.write(frame);
          out.flush();
        } catch (IOException e) {
          synchronized (this) {
            broken = true;
            ready.clear();
          }
        }
      }
      closeIfDone();
    }

    private void closeIfDone() {
      synchronized (this) {
        if (!halfClosed || writing || (pending > 0 && !broken)) {
          return;
        }
      }
      try {
        socket.close();
      } catch (IOException e) {
        // closed anyway
      }
    }
  }
}
