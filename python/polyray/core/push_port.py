"""The push port: the PushTasks stream as length-prefixed frames over TCP.

Every worker serves the gRPC PushTasks stream. A Python worker also listens
on a *push port* that carries the very same messages without gRPC: each frame
is a 4-byte little-endian length and then a serialized PushTasksRequest
(caller -> worker) or PushTasksReply (worker -> caller). The caller
half-closes its side when it has nothing more to push; the worker closes its
side once every task it took has its result (docs/protocol.md, "Push port").

Why: on the sync path (one call, then wait for it) a grpc.aio stream round
trip costs about as much as the rest of the call together, most of it thread
hand-offs inside gRPC. Here the worker's main thread reads the socket itself
and runs plain tasks where it reads them, so a sync call crosses no thread in
the worker and no gRPC poller on either side.

Under TLS (POLYRAY_USE_TLS=1) both ends speak mutual TLS on the same
socket (``auth.TlsPipe``, on memory buffers: the worker's main thread still
selects on the plain socket and never blocks in a handshake); the frames
inside are the same, the PushHello still comes first, and the caller's
half-close is still a TCP FIN (docs/security.md, "TLS").

Invariants:
- a connection's tasks are taken in the order their frames arrive, and every
  task taken gets exactly one result on the connection it came from, unless
  the connection breaks (the caller then treats the calls in flight as lost,
  as with a broken gRPC stream);
- borrows registered while a task ran reach their owners before its result
  is sent (as on the gRPC stream).
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import ssl
import sys
import threading
from collections.abc import Callable

from polyray.core.rpc import MAX_MESSAGE
from polyray.protocol import auth, lease_proof, validation
from polyray.protocol import common_pb2 as pb
from polyray.protocol import core_worker_pb2 as cw
from polyray.protocol.validation import InvalidInput

_HEADER = 4


def frame(message) -> bytes:
    """One frame: the message's length (4 bytes, little-endian) and its bytes."""
    body = message.SerializeToString()
    return len(body).to_bytes(_HEADER, "little") + body


class FrameReader:
    """Splits a byte stream into frame bodies."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; the bodies of the frames now complete.

        Raises ValueError on a frame longer than the message limit."""
        buf = self._buf
        buf += data
        bodies = []
        pos = 0
        while len(buf) - pos >= _HEADER:
            n = int.from_bytes(buf[pos:pos + _HEADER], "little")
            if n > MAX_MESSAGE:
                raise ValueError(f"a push frame announces {n} bytes, more than the limit of {MAX_MESSAGE}")
            if len(buf) - pos - _HEADER < n:
                break
            bodies.append(bytes(buf[pos + _HEADER:pos + _HEADER + n]))
            pos += _HEADER + n
        if pos:
            del buf[:pos]
        return bodies

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame."""
        return len(self._buf)


class PushStreamError(ConnectionError):
    """A push connection failed or ended before its results came."""


# -- caller side ----------------------------------------------------------------

class PushConnection(asyncio.Protocol):
    """The caller's end of a push connection, on the CoreWorker's event loop.

    It stands in for both halves of a gRPC PushTasks call: ``put_nowait``
    takes lists of TaskSpecs (None: no more), as the request queue does;
    replies go to ``on_reply`` as they are read (no reader task to wake per
    reply), and ``async for _ in conn`` yields nothing but reports the end:
    it stops at a clean one and raises PushStreamError when the connection
    fails or the worker closes it with results outstanding.
    """

    def __init__(self, host: str, port: int, on_reply: Callable[[cw.PushTasksReply], None],
                 lease: pb.LeaseProof | None = None) -> None:
        self._where = f"{host}:{port}"
        #: The caller's lease proof, shown in the first frame (normal tasks).
        self._lease = lease
        self._loop = asyncio.get_running_loop()
        self._on_reply = on_reply
        self._transport: asyncio.Transport | None = None
        self._outstanding = 0  # tasks written, results not yet read
        self._out: list = []
        self._no_more = False
        self._eof_sent = False
        self._flush_scheduled = False
        self._reader = FrameReader()
        self._waiter: asyncio.Future | None = None
        self._closed = False
        self._error: PushStreamError | None = None
        #: Mutual TLS under POLYRAY_USE_TLS; plaintext waits in _backlog until its handshake is done.
        self._tls = (auth.TlsPipe(auth.push_ssl_context(False), server_side=False, server_hostname=host)
                     if auth.tls_enabled() else None)
        self._backlog: list[bytes] = []
        self._connecting = asyncio.ensure_future(self._connect(host, port))

    async def _connect(self, host: str, port: int) -> None:
        try:
            await self._loop.create_connection(lambda: self, host, port)
        except OSError as e:
            self._end(PushStreamError(f"cannot connect to the worker's push port {self._where}: {e}"))

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self._transport = transport
        if self._tls is not None:
            transport.write(self._tls.start())
        # The first frame of every connection: the cluster token (PushHello).
        body = auth.hello_body()
        self._write(len(body).to_bytes(_HEADER, "little") + body)
        self._flush()

    def _write(self, data: bytes) -> None:
        """Send plaintext bytes (through TLS when on; held until its handshake is done)."""
        tls = self._tls
        if tls is None:
            self._transport.write(data)  # type: ignore[union-attr]
        elif not tls.ready:
            self._backlog.append(data)
        else:
            self._transport.write(tls.wrap(data))  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        tls = self._tls
        if tls is not None:
            was_ready = tls.ready
            try:
                data = tls.feed(data)
            except ssl.SSLError as e:
                self._end(PushStreamError(f"TLS with the worker's push port {self._where} failed: {e}"))
                return
            out = tls.outgoing()
            if out and self._transport is not None:
                self._transport.write(out)
            if tls.ready and not was_ready:
                backlog, self._backlog = self._backlog, []
                for chunk in backlog:
                    self._write(chunk)
                self._flush()
            if not data:
                return
        try:
            bodies = self._reader.feed(data)
        except ValueError as e:
            self._end(PushStreamError(f"bad frame from the worker at {self._where}: {e}"))
            return
        for body in bodies:
            try:
                reply = cw.PushTasksReply.FromString(body)
            except Exception as e:  # noqa: BLE001 — a bad frame ends this connection, not the caller
                self._end(PushStreamError(f"bad frame from the worker at {self._where}: {e}"))
                return
            self._outstanding -= len(reply.results)
            try:
                self._on_reply(reply)
            except Exception as e:  # as the loop reports a failing callback
                self._loop.call_exception_handler({"message": f"handling a reply from {self._where}",
                                                   "exception": e})

    def eof_received(self) -> bool:
        if not self._no_more:
            self._end(PushStreamError(f"the worker at {self._where} closed its push connection"))
        else:
            self._end(None)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self._end(PushStreamError(f"the push connection to the worker at {self._where} broke: {exc}"))
        elif not self._closed:
            self._end(None if self._no_more else PushStreamError(
                f"the push connection to the worker at {self._where} closed"))

    # the request side
    def put_nowait(self, specs: list | None) -> None:
        """Push these TaskSpecs (None: nothing more will be pushed)."""
        if specs is None:
            self._no_more = True
        else:
            self._out.extend(specs)
            if self._outstanding == 0 and not self._flush_scheduled and self._transport is not None:
                # Nothing in flight (a sync call): write now. Otherwise what
                # else is pushed in this loop iteration joins the same frame.
                self._flush()
                return
        if not self._flush_scheduled and self._transport is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        t = self._transport
        if t is None or t.is_closing():
            return
        if self._out:
            specs, self._out = self._out, []
            self._outstanding += len(specs)
            req = cw.PushTasksRequest(tasks=specs)
            if self._lease is not None:
                req.lease.CopyFrom(self._lease)
                self._lease = None
            self._write(frame(req))
        if self._no_more and not self._eof_sent and (self._tls is None or self._tls.ready):
            # Under TLS too the half-close is a TCP FIN (no close_notify: asyncio's
            # TLS cannot half-close, and a worker reads a bare FIN as the end).
            self._eof_sent = True
            t.write_eof()

    # the reply side
    def _end(self, error: PushStreamError | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._error = error
        if error is not None and self._transport is not None:
            self._transport.abort()
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def __aiter__(self) -> PushConnection:
        return self

    async def __anext__(self) -> cw.PushTasksReply:
        while True:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        """Drop the connection (shutdown)."""
        self._connecting.cancel()
        if self._transport is not None:
            self._transport.abort()
        self._end(None)


# -- worker side ----------------------------------------------------------------

class PushListener:
    """The worker's push port. Its connections are served on the thread that
    runs ``TaskExecutor.run_forever`` (the main thread), through a selector."""

    def __init__(self, *, host: str, worker_id: bytes, settle_borrows: Callable[[], None],
                 exiting: Callable[[], bool], exit_soon: Callable[[], None]) -> None:
        # settle_borrows: blocks until borrows made by finished tasks reached
        # their owners; exiting: whether the worker leaves after these
        # results; exit_soon: ends the process shortly (from any thread).
        self.worker_id = worker_id
        self.settle_borrows = settle_borrows
        self.exiting = exiting
        self.exit_soon = exit_soon
        self._sock = socket.create_server((host, 0))
        #: The cluster token every connection's first frame (PushHello) must carry.
        self.token = auth.current_token()
        #: Mutual TLS under POLYRAY_USE_TLS (clients must show a certificate the CA signed).
        self.tls = auth.push_ssl_context(True) if auth.tls_enabled() else None
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]
        #: Connections accepted so far (callers that used the port).
        self.accepted = 0
        self._sel: selectors.BaseSelector | None = None
        self._accept: Callable | None = None

    def attach(self, sel: selectors.BaseSelector, accept: Callable[[pb.TaskSpec, Callable], None]) -> None:
        """Serve on ``sel``; ``accept(spec, reply)`` runs or hands off one task
        (on the selecting thread) and returns once it is taken."""
        self._sel = sel
        self._accept = accept
        sel.register(self._sock, selectors.EVENT_READ, self._on_accept)

    def _on_accept(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.accepted += 1
        conn.setblocking(True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        served = _ServedConnection(self, conn, self._sel, self._accept)
        assert self._sel is not None
        self._sel.register(conn, selectors.EVENT_READ, served.on_readable)

    def close(self) -> None:
        """Stop listening."""
        try:
            self._sock.close()
        except OSError:
            pass


class _ServedConnection:
    """One caller's push connection, worker side."""

    def __init__(self, listener: PushListener, sock: socket.socket, sel, accept) -> None:
        self._listener = listener
        self._sock = sock
        self._sel = sel
        self._accept = accept
        self._reader = FrameReader()
        self._lock = threading.Lock()  # results come from the main, pool and async-actor threads
        self._results: list = []
        self._pending = 0
        self._read_closed = False
        self._broken = False
        self._hello = False  # the first frame (PushHello) was read and matched
        self._tls = auth.TlsPipe(listener.tls, server_side=True) if listener.tls is not None else None
        self._lease = lease_proof.StreamLease()  # what this connection proved (lease_proof.py)

    def on_readable(self) -> None:
        try:
            data = self._sock.recv(1 << 20)
        except OSError:
            data = b""
            self._broken = True
        if not data:
            self._sel.unregister(self._sock)
            self._read_closed = True
            self._maybe_close()
            return
        if self._tls is not None:
            # Decrypt under the lock that serializes the TLS state with the
            # writers; what TLS answers (handshake, tickets) leaves at once.
            try:
                with self._lock:
                    data = self._tls.feed(data)
                    out = self._tls.outgoing()
                    if out and not self._broken:
                        self._sock.sendall(out)
            except ssl.SSLError as e:
                with self._lock:
                    try:  # the alert, so the caller learns why
                        self._sock.sendall(self._tls.outgoing())
                    except OSError:
                        pass
                self._drop(f"refused: TLS failed ({e}) (from {self._peer()})")
                return
            except OSError as e:
                self._drop(f"cannot send: {e}")
                return
            if not data:
                return  # part of a record, or handshake only
        try:
            bodies = self._reader.feed(data)
            if not self._hello and bodies:
                # The first frame is the caller's PushHello: without the
                # cluster token the connection closes before any task is read.
                if not auth.hello_ok(bodies[0], self._listener.token):
                    self._drop(f"refused: no or wrong auth token in its PushHello (from {self._peer()})")
                    return
                self._hello = True
                bodies = bodies[1:]
            elif not self._hello and self._reader.pending_bytes > auth.MAX_HELLO + _HEADER:
                self._drop(f"refused: no PushHello first (from {self._peer()})")
                return
            requests = [cw.PushTasksRequest.FromString(b) for b in bodies]
            for req in requests:
                validation.check_push(req)
        except Exception as e:  # noqa: BLE001 — a bad frame ends this connection, not the worker
            self._drop(f"bad frame: {e}")
            return
        guard = lease_proof.GUARD
        for req in requests:
            if req.HasField("lease"):
                self._lease = guard.open(req, self._lease)
            for spec in req.tasks:
                try:
                    validation.check_task_spec(spec)
                except InvalidInput as e:
                    if not validation.task_addressable(spec):
                        self._drop(f"a task that cannot be answered: {e}")
                        return
                    worker = self._listener.worker_id.hex()[:12]
                    print(f"polyray: worker {worker}: rejecting task {spec.task_id.hex()}: {e}", file=sys.stderr)
                    with self._lock:
                        self._pending += 1
                    self.reply(validation.invalid_task_result(spec, e, worker))
                    continue
                why = guard.refusal(self._lease, spec) if guard.key is not None else None
                if why is not None:
                    worker = self._listener.worker_id.hex()[:12]
                    print(f"polyray: worker {worker}: refusing task {spec.task_id.hex()}: {why}", file=sys.stderr)
                    with self._lock:
                        self._pending += 1
                    self.reply(lease_proof.refused_result(spec, why, worker))
                    continue
                with self._lock:
                    self._pending += 1
                self._accept(spec, self.reply)

    def _peer(self) -> str:
        try:
            host, port = self._sock.getpeername()[:2]
            return f"{host}:{port}"
        except OSError:
            return "a closed connection"

    def _drop(self, why: str) -> None:
        """End this connection (not the worker) over bad input, with a log line."""
        print(f"polyray: worker {self._listener.worker_id.hex()[:12]}: dropping a push connection: {why}",
              file=sys.stderr)
        self._broken = True
        try:
            self._sel.unregister(self._sock)
        except (KeyError, ValueError):
            pass
        self._read_closed = True
        self._maybe_close()

    def reply(self, result: cw.TaskResult) -> None:
        """The result of a task taken from this connection (any thread). It
        leaves at once: the next task of the frame may take long, and its
        caller pipelined the tasks because they looked short, not to wait.
        Results that other threads add meanwhile leave with it."""
        with self._lock:
            self._results.append(result)
        self._send()

    def _send(self) -> None:
        listener = self._listener
        with self._lock:
            batch, self._results = self._results, []
        if not batch:
            return
        # Borrows made while running must reach owners before the caller
        # learns the task is done.
        listener.settle_borrows()
        exiting = listener.exiting()
        if exiting:
            for r in batch:
                r.worker_exiting = True
        data = frame(cw.PushTasksReply(results=batch))
        with self._lock:
            if not self._broken:
                try:
                    if self._tls is not None:
                        data = self._tls.wrap(data)
                    self._sock.sendall(data)
                except (OSError, ssl.SSLError):
                    self._broken = True
            self._pending -= sum(1 for r in batch if not r.generator_item)  # items precede their task's end
        if exiting:
            listener.exit_soon()
        self._maybe_close()

    def _maybe_close(self) -> None:
        with self._lock:
            done = self._read_closed and (self._pending <= 0 or self._broken)
        if done:
            try:
                self._sock.close()
            except OSError:
                pass
