package io.polyray.runtime.core;

import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.worker.PushTls;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import javax.net.ssl.SSLSocket;

/**
 * A push connection's transport under {@code POLYRAY_USE_TLS=1} (mutual TLS, {@link PushTls}),
 * on blocking sockets: the connection's thread ({@code polyray-push-host:port}) connects, runs
 * the handshake (within {@link PushPortClient#CONNECT_TIMEOUT_MS}) and reads reply frames; a
 * second thread ({@code polyray-push-w-host:port}) writes the queued frames, all that is queued
 * in one write, so callers never block. The half-close is a bare TCP end (shutdownOutput of the
 * plain socket), as the other languages send it.
 *
 * <p>The frames, the queue, the count of outstanding results and the end belong to the {@link
 * PushPortClient} this carries; this only moves bytes. A worker that refuses the handshake or
 * our certificate fails the stream (UNAVAILABLE) like any refused connection.
 */
final class PushTlsTransport {
  private static final int READ_BUFFER = 1 << 16;

  private final PushPortClient client;
  private final String host;
  private final int port;
  private final String where;

  // Guarded by this.
  /** The plain socket (closed to end the connection) and the TLS one over it. */
  private Socket plain;
  private SSLSocket ssl;
  private boolean closed;

  PushTlsTransport(PushPortClient client, String host, int port, String where) {
    this.client = client;
    this.host = host;
    this.port = port;
    this.where = where;
  }

  /** Starts connecting, on the connection's own thread. */
  void start() {
    Thread t = new Thread(this::run, "polyray-push-" + where);
    t.setDaemon(true);
    t.start();
  }

  /** Closes the sockets: ends a connect, handshake, read or write in progress. */
  void close() {
    Socket p;
    Socket s;
    synchronized (this) {
      closed = true;
      p = plain;
      s = ssl;
    }
    closeQuietly(s);
    closeQuietly(p);
  }

  private void run() {
    try {
      Socket p = new Socket();
      synchronized (this) {
        if (closed) {
          closeQuietly(p);
          return;
        }
        plain = p;
      }
      SSLSocket s;
      try {
        p.connect(new InetSocketAddress(host, port), PushPortClient.CONNECT_TIMEOUT_MS);
        p.setTcpNoDelay(true);
        s = PushTls.client(p, host, port);
        synchronized (this) {
          ssl = s;
        }
        s.setSoTimeout(PushPortClient.CONNECT_TIMEOUT_MS);
        s.startHandshake();
        s.setSoTimeout(0);
      } catch (IOException | RuntimeException e) {
        client.fail("cannot connect to the worker's push port " + where + " over TLS: " + e, e);
        return;
      }
      OutputStream os;
      DataInputStream in;
      try {
        os = s.getOutputStream();
        in = new DataInputStream(new BufferedInputStream(s.getInputStream(), READ_BUFFER));
      } catch (IOException e) {
        client.fail("the push connection to the worker at " + where + " broke: " + e, e);
        return;
      }
      if (!client.markConnected()) {
        return;
      }
      Thread w = new Thread(() -> writeLoop(os), "polyray-push-w-" + where);
      w.setDaemon(true);
      w.start();
      readLoop(in);
    } finally {
      close();
      client.closed();
    }
  }

  /** Writes what is queued, all of it at once, then the half-close when asked. */
  private void writeLoop(OutputStream os) {
    while (true) {
      byte[] chunk;
      try {
        chunk = client.takeQueued();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (chunk == null) {
        return;
      }
      try {
        if (chunk == PushPortClient.HALF_CLOSE) {
          Socket p;
          synchronized (this) {
            p = plain;
          }
          p.shutdownOutput(); // a bare TCP end: the worker reads it as our half-close
        } else {
          os.write(chunk);
          os.flush();
        }
      } catch (IOException e) {
        client.fail("the push connection to the worker at " + where + " broke: cannot send: " + e.getMessage(), e);
        return;
      }
    }
  }

  /** Reads reply frames until the end. */
  private void readLoop(DataInputStream in) {
    while (true) {
      int n;
      try {
        n = Integer.reverseBytes(in.readInt());
      } catch (EOFException e) {
        client.eof(false);
        return;
      } catch (IOException e) {
        client.fail("the push connection to the worker at " + where + " broke: " + e, e);
        return;
      }
      if (!client.frameLengthOk(n)) {
        return;
      }
      byte[] body = new byte[n];
      try {
        in.readFully(body);
      } catch (EOFException e) {
        client.eof(true);
        return;
      } catch (IOException e) {
        client.fail("the push connection to the worker at " + where + " broke: " + e, e);
        return;
      }
      PushTasksReply reply = client.parseReply(body);
      if (reply == null || client.received(List.of(reply), PushPortClient.ended(reply)) < 0) {
        return;
      }
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      if (s != null) {
        s.close();
      }
    } catch (IOException e) {
      // closed anyway
    }
  }
}
