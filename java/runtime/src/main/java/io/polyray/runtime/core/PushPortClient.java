package io.polyray.runtime.core;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.worker.PushTls;
import io.polyray.runtime.worker.Spin;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The caller's end of a worker's push port (docs/protocol.md §7.2, "Push port"; as
 * python/polyray/core/push_port.py {@code PushConnection}): the PushTasks stream as frames
 * of a 4-byte little-endian length and a serialized PushTasksRequest (out) or
 * PushTasksReply (in) over one TCP connection. It is a drop-in for the request side of the
 * gRPC stream: {@link #onNext} pushes a request, {@link #onCompleted} half-closes, {@link
 * #onError} drops the connection; replies and the end go to the reply observer given to
 * {@link #open}, as gRPC delivers them.
 *
 * <p>Threads: one daemon thread per connection ({@code polyray-push-host:port}) connects
 * (with a timeout of {@value #CONNECT_TIMEOUT_MS} ms), then selects on the socket, reads
 * reply frames and writes what the socket did not take at once. Callers write on their own
 * thread, without blocking: the socket is non-blocking, and bytes it does not take wait in
 * a queue that the connection thread flushes when the socket is writable (so a worker that
 * does not read, e.g. one busy with a long task, never stalls the CoreWorker's io thread).
 * Frames written before the connection is up wait in that queue too. Replies go to the
 * callbacks executor in batches: the reader posts one drain at a time, and what it reads
 * while that drain waits joins it. When a request leaves with nothing else in flight (a
 * sync call), the reader polls for its reply for {@code POLYRAY_SPIN_US} ({@link
 * Spin#NANOS}) before it sleeps in select, so the reply does not wait for a thread to wake
 * (as the workers' readers do). While results stream in (more than one outstanding) it
 * does not poll but pauses 200 µs after each read: workers send each result in a frame of
 * its own as soon as it is ready, and without the pause every result would wake this
 * thread and the io thread, taking CPU from the worker on a small machine (the "Java ->
 * Python actor calls async" row ran 10-20% below gRPC). A result then waits at most
 * that pause longer, and only while others are still due.
 *
 * <p>Invariants: frames leave whole and in the order of their {@code onNext} calls (one
 * lock covers the queue and every write); the half-close leaves after the last frame; the
 * reply observer's methods run on the callbacks executor, which must run tasks one at a
 * time in order (the CoreWorker's io thread, as the gRPC channels' executor): every reply
 * in the order read, then exactly one of onCompleted (the worker closed after our
 * half-close with no result outstanding) or onError (anything else: cannot connect, the
 * worker closed with results outstanding or before our half-close, a reset, a bad frame,
 * our own onError or {@link #abort}), and nothing after it. Every failure of the
 * connection is an UNAVAILABLE StatusRuntimeException, as a broken gRPC stream's, so the
 * submitters retry or fail the calls in flight the same way; its description says what
 * happened and names {@code host:port}. The caller's own onError, {@link #abort} and a
 * reply observer that throws end it with CANCELLED, as a cancelled gRPC call. Requests
 * pushed after a failure are dropped (the end fails their tasks); after the half-close
 * they throw IllegalStateException.
 *
 * <p>Under {@code POLYRAY_USE_TLS=1} the connection speaks mutual TLS and runs on blocking
 * sockets instead ({@link PushTlsTransport}: a reader and a writer thread, so callers still
 * never block); the frames, the queue and the end stay here. No polling for replies under TLS.
 * A worker that refuses the handshake or our certificate fails the stream (UNAVAILABLE) like
 * any refused connection.
 */
public final class PushPortClient implements StreamObserver<PushTasksRequest> {
  /** How long a connect may take before the stream fails. */
  static final int CONNECT_TIMEOUT_MS = 10_000;
  private static final int HEADER = 4;
  private static final int READ_BUFFER = 1 << 16;
  private static final boolean ENABLED = !"0".equals(System.getenv("POLYRAY_PUSH_PORT"));
  /** Whether connections speak TLS (POLYRAY_USE_TLS). */
  private static final boolean TLS = PushTls.enabled();
  /** How long the reader polls for the reply to a lone call (POLYRAY_SPIN_US). */
  private static final long SPIN_NANOS = spinNanos();
  /** The reader's pause after a read while more than one result is outstanding (200 µs). */
  static final long STREAM_PAUSE_NANOS = 200_000;

  private final String where;
  private final String host;
  private final int port;
  private final StreamObserver<PushTasksReply> replies;
  private final Executor callbacks;
  private final Consumer<PushPortClient> onEnd;
  /** Under TLS: the blocking-socket transport (null: the non-blocking one here). */
  private final PushTlsTransport tls;
  // Set by start(), before the connection's thread starts and before the client is used.
  private SocketChannel channel;
  private Selector selector;

  // Guarded by this.
  private final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
  private SelectionKey key;
  private boolean connected;
  private boolean wantWrite;
  private boolean noMore;
  private boolean outputShut;
  private boolean ended;
  /** Tasks pushed whose results have not been read. */
  private long outstanding;
  /** A request left with nothing in flight: the reader polls for the reply for a while. */
  private volatile boolean spinRequested;

  /** Replies read, not yet handed to the observer (the reader adds, the callbacks executor takes). */
  private final ConcurrentLinkedQueue<PushTasksReply> inbox = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean drainPosted = new AtomicBoolean();

  /** Set on the callbacks executor once the end is reported: no callback after it. */
  private volatile boolean reported;

  /**
   * Whether callers should use the push port of this address: it has one, and
   * {@code POLYRAY_PUSH_PORT=0} is not set.
   *
   * @param a a worker's address
   * @return true to use {@link #open}
   */
  public static boolean usable(Address a) {
    return ENABLED && a.getPushPort() != 0;
  }

  /**
   * Opens a push connection to a worker's push port; connecting happens on the
   * connection's thread, so this returns at once.
   *
   * @param a the worker's address ({@code host} and {@code push_port})
   * @param replies gets the replies, then the end
   * @param callbacks runs the reply observer's methods, one at a time, in order
   * @return the request side of the stream
   */
  public static PushPortClient open(Address a, StreamObserver<PushTasksReply> replies, Executor callbacks) {
    return open(a.getHost(), a.getPushPort(), replies, callbacks);
  }

  /**
   * Opens a push connection to {@code host:port}; connecting happens on the connection's
   * thread, so this returns at once.
   *
   * @param host the worker's host
   * @param port its push port
   * @param replies gets the replies, then the end
   * @param callbacks runs the reply observer's methods, one at a time, in order
   * @return the request side of the stream
   */
  public static PushPortClient open(String host, int port, StreamObserver<PushTasksReply> replies,
      Executor callbacks) {
    PushPortClient c = new PushPortClient(host, port, replies, callbacks, null);
    c.start();
    return c;
  }

  /**
   * A connection to {@code host:port}, not yet started ({@link #start}).
   *
   * @param host the worker's host
   * @param port its push port
   * @param replies gets the replies, then the end
   * @param callbacks runs the reply observer's methods, one at a time, in order
   * @param onEnd gets this client once its connection is closed for good (on the
   *     connection's thread, or in {@link #start}), or null
   */
  PushPortClient(String host, int port, StreamObserver<PushTasksReply> replies, Executor callbacks,
      Consumer<PushPortClient> onEnd) {
    this.where = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    this.host = host;
    this.port = port;
    this.replies = replies;
    this.callbacks = callbacks;
    this.onEnd = onEnd;
    this.tls = TLS ? new PushTlsTransport(this, host, port, where) : null;
    // The first frame of every connection: the cluster token (PushHello).
    out.add(ByteBuffer.wrap(io.polyray.runtime.worker.Auth.helloFrame()));
  }

  /** Starts connecting, on the connection's own thread. */
  void start() {
    if (tls != null) {
      tls.start();
      return;
    }
    try {
      SocketChannel ch = SocketChannel.open();
      synchronized (this) {
        channel = ch;
      }
      Selector sel = Selector.open();
      boolean gone;
      synchronized (this) {
        selector = sel;
        gone = ended;
      }
      if (gone) { // aborted before it started
        closeQuietly();
        if (onEnd != null) {
          onEnd.accept(this);
        }
        return;
      }
    } catch (IOException e) {
      fail("cannot open a connection to the worker's push port " + where + ": " + e, e);
      closeQuietly();
      if (onEnd != null) {
        onEnd.accept(this);
      }
      return;
    }
    Thread t = new Thread(this::run, "polyray-push-" + where);
    t.setDaemon(true);
    t.start();
  }

  /**
   * {@code host:port} of the push port.
   *
   * @return where this connects
   */
  public String where() {
    return where;
  }

  private static long spinNanos() {
    try {
      return Spin.NANOS;
    } catch (LinkageError e) { // a bad POLYRAY_SPIN_US: Spin's initializer threw
      Throwable why = e.getCause() != null ? e.getCause() : e;
      System.err.println("polyray: push connections do not poll: " + why.getMessage());
      return 0;
    }
  }

  // ------------------------------------------------------------ the request side

  /**
   * Pushes a request: written at once as far as the socket takes it, the rest by the
   * connection's thread. After the stream broke the request is dropped (the end, already
   * on its way, fails its tasks).
   *
   * @param request the tasks
   * @throws IllegalStateException after {@link #onCompleted}
   */
  @Override
  public void onNext(PushTasksRequest request) {
    int n = request.getSerializedSize();
    byte[] frame = new byte[HEADER + n];
    frame[0] = (byte) n;
    frame[1] = (byte) (n >>> 8);
    frame[2] = (byte) (n >>> 16);
    frame[3] = (byte) (n >>> 24);
    try {
      CodedOutputStream cos = CodedOutputStream.newInstance(frame, HEADER, n);
      request.writeTo(cos);
      cos.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new IllegalStateException("cannot serialize a PushTasksRequest", e);
    }
    synchronized (this) {
      if (noMore) {
        throw new IllegalStateException("the push stream to " + where + " is already half-closed");
      }
      if (ended) {
        return;
      }
      if (outstanding == 0 && SPIN_NANOS > 0 && !TLS) {
        // A lone call (the sync path): the reader polls for its result rather than sleep.
        spinRequested = true;
        selector.wakeup();
      }
      outstanding += request.getTasksCount();
      out.add(ByteBuffer.wrap(frame));
      if (connected && out.size() == 1) {
        flushLocked();
      }
    }
  }

  /** Half-closes: the worker finishes what it has, then closes (the end: onCompleted). */
  @Override
  public void onCompleted() {
    synchronized (this) {
      if (noMore || ended) {
        return;
      }
      noMore = true;
      if (connected && out.isEmpty()) {
        flushLocked();
      }
    }
  }

  /**
   * Drops the connection; the reply observer gets onError (CANCELLED), as when a gRPC
   * call is cancelled.
   *
   * @param t why
   */
  @Override
  public void onError(Throwable t) {
    end(Status.CANCELLED.withDescription("the caller cancelled its push stream to " + where).withCause(t)
        .asRuntimeException());
  }

  /** Drops the connection (shutdown); the reply observer gets onError (CANCELLED). */
  public void abort() {
    end(Status.CANCELLED.withDescription("the push connection to " + where + " was closed (shutdown)")
        .asRuntimeException());
  }

  /** Writes queued frames while the socket takes them; then the half-close, if asked. */
  private void flushLocked() {
    if (ended) {
      return;
    }
    if (tls != null) {
      notifyAll(); // the writer thread writes (PushTlsTransport, takeQueued)
      return;
    }
    try {
      while (!out.isEmpty()) {
        ByteBuffer b = out.peek();
        channel.write(b);
        if (b.hasRemaining()) {
          if (!wantWrite) {
            wantWrite = true;
            key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            selector.wakeup();
          }
          return;
        }
        out.poll();
      }
      if (wantWrite) {
        wantWrite = false;
        key.interestOps(SelectionKey.OP_READ);
      }
      if (noMore && !outputShut) {
        outputShut = true;
        channel.shutdownOutput();
      }
    } catch (IOException e) {
      fail("the push connection to the worker at " + where + " broke: " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------ the connection's thread

  private void run() {
    try {
      try {
        channel.socket().connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.configureBlocking(false);
      } catch (IOException | RuntimeException e) {
        fail("cannot connect to the worker's push port " + where + ": " + e, e);
        return;
      }
      synchronized (this) {
        if (ended) {
          return;
        }
        try {
          key = channel.register(selector, SelectionKey.OP_READ);
        } catch (IOException | RuntimeException e) {
          fail("cannot watch the push connection to " + where + ": " + e, e);
          return;
        }
        connected = true;
        flushLocked();
      }
      readLoop();
    } finally {
      closeQuietly();
      if (onEnd != null) {
        onEnd.accept(this);
      }
    }
  }

  private void readLoop() {
    try {
      readFrames();
    } finally {
      if (holdsSpin) {
        holdsSpin = false;
        Spin.release();
      }
    }
  }

  /** Whether the reader holds this process's spin token (reader thread only). */
  private boolean holdsSpin;

  private void readFrames() {
    ByteBuffer in = ByteBuffer.allocate(READ_BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    byte[] body = null;
    int bodyPos = 0;
    long spinUntil = 0;
    while (true) {
      try {
        if (spinUntil != 0 && System.nanoTime() < spinUntil) {
          if (selector.selectNow() == 0) {
            synchronized (this) {
              if (ended) {
                return;
              }
            }
            Spin.pause();
            continue;
          }
        } else {
          spinUntil = 0;
          if (holdsSpin) {
            holdsSpin = false;
            Spin.release();
          }
          selector.select();
          if (spinRequested) {
            spinRequested = false;
            // Only while it pays (Spin's load gate and token): not on a busy machine.
            long budget = Spin.budgetNanos();
            if (budget > 0 && Spin.acquire()) {
              holdsSpin = true;
              spinUntil = System.nanoTime() + budget;
            }
          }
        }
      } catch (IOException | RuntimeException e) {
        fail("the push connection to the worker at " + where + " broke: " + e, e);
        return;
      }
      synchronized (this) {
        if (ended) {
          return;
        }
        selector.selectedKeys().clear();
        if (wantWrite && key.isValid() && key.isWritable()) {
          flushLocked();
          if (ended) {
            return;
          }
        }
      }
      int r;
      try {
        r = channel.read(in);
      } catch (IOException | RuntimeException e) {
        fail("the push connection to the worker at " + where + " broke: " + e.getMessage(), e);
        return;
      }
      if (r == 0) {
        continue;
      }
      List<PushTasksReply> got = null;
      int results = 0;
      if (r > 0) {
        in.flip();
        while (true) {
          if (body == null) {
            if (in.remaining() < HEADER) {
              break;
            }
            int n = in.getInt();
            if (!frameLengthOk(n)) {
              return;
            }
            body = new byte[n];
            bodyPos = 0;
          }
          int k = Math.min(in.remaining(), body.length - bodyPos);
          in.get(body, bodyPos, k);
          bodyPos += k;
          if (bodyPos < body.length) {
            break;
          }
          PushTasksReply reply = parseReply(body);
          if (reply == null) {
            return;
          }
          body = null;
          if (got == null) {
            got = new ArrayList<>(1);
          }
          got.add(reply);
          results += ended(reply);
        }
        in.compact();
      }
      if (got != null) {
        long left = received(got, results);
        if (left < 0) {
          return;
        }
        boolean streaming = left > 1;
        spinUntil = 0; // a reply came: back to sleeping in select between frames
        if (streaming) {
          // Results stream in (the worker sends each as it is ready): let several gather,
          // so that one wake-up of this thread and of the io thread takes them together.
          LockSupport.parkNanos(STREAM_PAUSE_NANOS);
        }
      }
      if (r < 0) {
        eof(body != null || in.position() > 0);
        return;
      }
    }
  }

  /** How many of a reply's results end their task (a generator task's items precede its end). */
  static int ended(PushTasksReply reply) {
    int n = 0;
    for (io.polyray.runtime.proto.TaskResult r : reply.getResultsList()) {
      if (r.getGeneratorItem() == 0) {
        n++;
      }
    }
    return n;
  }

  /** The worker closed its side. */
  void eof(boolean midFrame) {
    String error;
    synchronized (this) {
      if (ended) {
        return;
      }
      if (midFrame) {
        error = "the worker at " + where + " closed its push connection in the middle of a frame";
      } else if (outstanding > 0) {
        error = "the worker at " + where + " closed its push connection with " + outstanding
            + " result(s) outstanding";
      } else if (!noMore) {
        error = "the worker at " + where + " closed its push connection";
      } else {
        error = null;
      }
    }
    if (error != null) {
      fail(error, null);
    } else {
      end(null);
    }
  }


  // ------------------------------------------------------------ for both transports' readers

  /**
   * Checks a frame's announced length; a bad one fails the stream.
   *
   * @param n the length read
   * @return false when the stream failed (the reader stops)
   */
  boolean frameLengthOk(int n) {
    if (n >= 0 && n <= RuntimeSpec.RPC_MAX_MESSAGE_BYTES) {
      return true;
    }
    fail("bad frame from the worker at " + where + ": a push frame announces "
        + Integer.toUnsignedString(n) + " bytes, more than the limit of "
        + RuntimeSpec.RPC_MAX_MESSAGE_BYTES, null);
    return false;
  }

  /**
   * Parses a reply frame's body; a bad one fails the stream.
   *
   * @param body the frame's bytes after the length
   * @return the reply, or null when the stream failed (the reader stops)
   */
  PushTasksReply parseReply(byte[] body) {
    try {
      return PushTasksReply.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      fail("bad frame from the worker at " + where + ": " + e.getMessage(), e);
      return null;
    }
  }

  /**
   * Hands replies read to the observer (on the callbacks executor) and counts their results.
   *
   * @param got the replies, in the order read
   * @param results how many results they carry
   * @return the results still outstanding, or -1 when the stream has ended (the reader stops)
   */
  long received(List<PushTasksReply> got, int results) {
    long left;
    synchronized (this) {
      if (ended) {
        return -1;
      }
      outstanding -= results;
      left = outstanding;
    }
    inbox.addAll(got);
    if (drainPosted.compareAndSet(false, true)) {
      post(this::drainInbox);
    }
    return left;
  }

  // ------------------------------------------------------------ for the TLS transport

  /** The bytes {@link #takeQueued} returns when the half-close is due (no frame is queued). */
  static final byte[] HALF_CLOSE = new byte[0];

  /**
   * Waits for frames to write (under TLS, on the writer thread): all that is queued, in one
   * array; {@link #HALF_CLOSE} when the half-close is due; null once the stream has ended.
   *
   * @return the bytes to write, {@link #HALF_CLOSE} or null
   * @throws InterruptedException when the writer is interrupted
   */
  synchronized byte[] takeQueued() throws InterruptedException {
    while (!ended && out.isEmpty() && !(noMore && !outputShut)) {
      wait();
    }
    if (ended) {
      return null;
    }
    if (out.isEmpty()) {
      outputShut = true;
      return HALF_CLOSE;
    }
    int total = 0;
    for (ByteBuffer b : out) {
      total += b.remaining();
    }
    byte[] chunk = new byte[total];
    int pos = 0;
    for (ByteBuffer b; (b = out.poll()) != null; ) {
      int k = b.remaining();
      b.get(chunk, pos, k);
      pos += k;
    }
    return chunk;
  }

  /**
   * The transport is up: queued frames may leave.
   *
   * @return false when the stream ended meanwhile
   */
  synchronized boolean markConnected() {
    if (ended) {
      return false;
    }
    connected = true;
    return true;
  }

  /**
   * Whether the stream has ended.
   *
   * @return true once ended
   */
  synchronized boolean isEnded() {
    return ended;
  }

  /** The connection is closed for good: tells whoever asked ({@code onEnd}). */
  void closed() {
    if (onEnd != null) {
      onEnd.accept(this);
    }
  }

  // ------------------------------------------------------------ the end

  void fail(String message, Throwable cause) {
    end(Status.UNAVAILABLE.withDescription(message).withCause(cause).asRuntimeException());
  }

  /** Ends the stream once: closes the socket, reports the end (null: onCompleted). */
  private void end(RuntimeException error) {
    SocketChannel ch;
    Selector sel;
    synchronized (this) {
      if (ended) {
        return;
      }
      ended = true;
      out.clear();
      ch = channel;
      sel = selector;
      notifyAll(); // the TLS writer, if any, stops
    }
    if (tls != null) {
      tls.close(); // also ends a connect, handshake or read in progress
    }
    try {
      if (ch != null) {
        ch.close(); // also ends a connect in progress
      }
    } catch (IOException e) {
      // closed anyway
    }
    if (sel != null) {
      sel.wakeup();
    }
    post(() -> {
      drainInbox(); // what was read before the end
      if (reported) {
        return;
      }
      reported = true;
      if (error == null) {
        replies.onCompleted();
      } else {
        replies.onError(error);
      }
    });
  }

  /**
   * On the callbacks executor: hands the replies read so far to the observer. The reader
   * posts one drain at a time; replies it reads while one is pending join that one.
   */
  private void drainInbox() {
    drainPosted.set(false);
    for (PushTasksReply reply; (reply = inbox.poll()) != null; ) {
      if (reported) {
        inbox.clear();
        return;
      }
      try {
        replies.onNext(reply);
      } catch (RuntimeException e) {
        // As gRPC does when a response observer throws: the call is cancelled.
        end(Status.CANCELLED.withDescription("handling a reply from the worker at " + where + " failed: " + e)
            .withCause(e).asRuntimeException());
        return;
      }
    }
  }

  private void post(Runnable r) {
    try {
      callbacks.execute(r);
    } catch (RejectedExecutionException e) {
      // shut down: nobody waits for these callbacks any more
    }
  }

  private void closeQuietly() {
    try {
      if (channel != null) {
        channel.close();
      }
    } catch (IOException e) {
      // closed anyway
    }
    try {
      if (selector != null) {
        selector.close();
      }
    } catch (IOException e) {
      // closed anyway
    }
  }
}
