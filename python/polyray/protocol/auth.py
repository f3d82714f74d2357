"""The cluster token: where it comes from, how clients send it, how servers check it.

One module for every Python process of a cluster (GCS, raylet, drivers,
workers, the CLI). The names are shared with Java and C++ (DESIGN.md §11):

* ``POLYRAY_AUTH_MODE``: ``token`` (the default) or ``disabled`` (a warning
  is logged once per process);
* the token: ``POLYRAY_AUTH_TOKEN``, else the file named by
  ``POLYRAY_AUTH_TOKEN_PATH`` (an unreadable or empty file is an error naming
  the file and why), else the default file ``~/.polyray/auth_token``. A head
  that finds none creates a random 256-bit token there (mode 0600 in a 0700
  folder; two heads racing end with one token: the file appears complete and
  only once, by a hard link of a finished temporary file);
* gRPC: metadata ``authorization: Bearer <token>`` on every call; servers
  refuse a call without it, or with another token, with UNAUTHENTICATED
  (``AuthServerInterceptor``, constant-time comparison, a log line naming the
  peer and the method);
* the push port: the connecting side's first frame on each connection is a
  ``PushHello`` carrying the token; the worker closes a connection whose
  hello does not match before it reads any task.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import ssl
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

log = logging.getLogger(__name__)

ENV_MODE = "POLYRAY_AUTH_MODE"
ENV_TOKEN = "POLYRAY_AUTH_TOKEN"
ENV_TOKEN_PATH = "POLYRAY_AUTH_TOKEN_PATH"
MODE_TOKEN = "token"
MODE_DISABLED = "disabled"
#: gRPC metadata key (lower case, as gRPC requires) and the value's prefix.
METADATA_KEY = "authorization"
BEARER = "Bearer "
#: Bytes of randomness in a created token (256 bits; written as 64 hex digits).
TOKEN_BYTES = 32

#: What this process's auth did (benchmarks/auth_parts.py counts them per operation): gRPC calls
#: it served through the server check and made through the client interceptors, push
#: connections it opened with a PushHello and hellos it checked. Plain int increments, always on.
COUNTS = {"served": 0, "made": 0, "hello_sent": 0, "hello_checked": 0}
#: When set, every process writes its COUNTS (and Java's, C++'s) to ``<dir>/<lang>-<pid>.json``
#: every 100 ms (read once at import; off by default).
ENV_COUNT_DIR = "POLYRAY_AUTH_COUNT_DIR"


def _dump_counts(folder: str) -> None:
    import json
    import time
    path = os.path.join(folder, f"py-{os.getpid()}.json")
    while True:
        tmp = path + ".tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(COUNTS, f)
            os.replace(tmp, path)
        except OSError:
            pass
        time.sleep(0.1)


if os.environ.get(ENV_COUNT_DIR):
    threading.Thread(target=_dump_counts, args=(os.environ[ENV_COUNT_DIR],), name="auth-counts",
                     daemon=True).start()


class AuthError(RuntimeError):
    """The token cannot be found or read; the message says where and why."""


def default_token_path() -> Path:
    """``~/.polyray/auth_token`` of the current user."""
    return Path.home() / ".polyray" / "auth_token"


_warned_disabled = False


def auth_mode(env: Mapping[str, str] | None = None) -> str:
    """``token`` or ``disabled`` from POLYRAY_AUTH_MODE (default ``token``).

    Raises AuthError on any other value, so a typo never turns auth off."""
    global _warned_disabled
    env = os.environ if env is None else env
    mode = env.get(ENV_MODE, "").strip().lower() or MODE_TOKEN
    if mode not in (MODE_TOKEN, MODE_DISABLED):
        raise AuthError(f"{ENV_MODE}={env.get(ENV_MODE)!r}: expected '{MODE_TOKEN}' or '{MODE_DISABLED}'")
    if mode == MODE_DISABLED and not _warned_disabled and env is os.environ:
        _warned_disabled = True
        log.warning("%s=disabled: every polyray port accepts anyone who can reach it", ENV_MODE)
    return mode


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token in ``path`` (surrounding whitespace removed).

    Raises AuthError naming the file when it cannot be read or is empty."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise AuthError(f"cannot read the polyray auth token file {os.fspath(path)}: "
                        f"{e.strerror or type(e).__name__}") from e
    except UnicodeDecodeError as e:
        raise AuthError(f"the polyray auth token file {os.fspath(path)} is not text: {e}") from e
    if not token:
        raise AuthError(f"the polyray auth token file {os.fspath(path)} is empty")
    return token


def create_token_file(path: str | os.PathLike[str] | None = None) -> str:
    """Write a new random token to ``path`` (default file) unless one is there; the token in it.

    The folder is made with mode 0700 and the file with 0600. The token is
    written to a temporary file first and hard-linked to ``path``: the link
    fails if ``path`` exists, so of two heads racing one wins and both
    return the winner's token, and no reader ever sees a half-written file."""
    target = Path(path) if path is not None else default_token_path()
    folder = target.parent
    if not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
    token = secrets.token_hex(TOKEN_BYTES)
    tmp = folder / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return read_token_file(target)
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    log.info("created the cluster's auth token in %s", target)
    return token


def resolve_token(env: Mapping[str, str] | None = None, *, create: bool = False) -> str | None:
    """The token this process uses, or None when auth is disabled.

    Order: POLYRAY_AUTH_TOKEN, POLYRAY_AUTH_TOKEN_PATH, the default file;
    with ``create`` (a head) a missing default file is created. Raises
    AuthError when no token is found (or the named file is unusable)."""
    env = os.environ if env is None else env
    if auth_mode(env) == MODE_DISABLED:
        return None
    token = env.get(ENV_TOKEN, "").strip()
    if token:
        return token
    path = env.get(ENV_TOKEN_PATH, "").strip()
    if path:
        return read_token_file(path)
    default = default_token_path()
    if default.exists() or not create:
        try:
            return read_token_file(default)
        except AuthError as e:
            if create or default.exists():
                raise
            raise AuthError(
                f"no polyray auth token: set {ENV_TOKEN} or {ENV_TOKEN_PATH}, or start a head on this "
                f"machine (it writes {default}); {ENV_MODE}=disabled turns authentication off") from e
    return create_token_file(default)


_lock = threading.Lock()
_cache: tuple[tuple[str, str, str, str], str | None] | None = None


def current_token() -> str | None:
    """``resolve_token()`` for this process, cached while the environment is unchanged."""
    global _cache
    key = (os.environ.get(ENV_MODE, ""), os.environ.get(ENV_TOKEN, ""),
           os.environ.get(ENV_TOKEN_PATH, ""), str(default_token_path()))
    cached = _cache
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        token = resolve_token()
        _cache = (key, token)
        return token


def ensure_head_token() -> str | None:
    """For a head: resolve the token, creating the default file if none is found,
    and put it in this process's environment so every process it starts inherits it."""
    token = resolve_token(create=True)
    if token is not None:
        os.environ[ENV_TOKEN] = token
    return token


def child_env() -> dict[str, str]:
    """The auth and TLS variables a process passes to the processes it starts (workers, heads).

    With TLS on, workers' push ports speak mutual TLS too (``push_ssl_context``)."""
    tls: dict[str, str] = {}
    if tls_enabled():
        tls = {ENV_USE_TLS: "1"}
        tls.update({v: os.environ.get(v, "") for v in (ENV_TLS_CERT, ENV_TLS_KEY, ENV_TLS_CA)})
    mode = auth_mode()
    if mode == MODE_DISABLED:
        return {ENV_MODE: MODE_DISABLED, **tls}
    token = current_token()
    return {ENV_MODE: MODE_TOKEN, ENV_TOKEN: token or "", **tls}


# ----------------------------------------------------------------- TLS

ENV_USE_TLS = "POLYRAY_USE_TLS"
ENV_TLS_CERT = "POLYRAY_TLS_SERVER_CERT"
ENV_TLS_KEY = "POLYRAY_TLS_SERVER_KEY"
ENV_TLS_CA = "POLYRAY_TLS_CA_CERT"


def tls_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether POLYRAY_USE_TLS asks for TLS (``1``, ``true``, ``yes``, ``on``)."""
    env = os.environ if env is None else env
    return env.get(ENV_USE_TLS, "").strip().lower() in ("1", "true", "yes", "on")


def tls_files(env: Mapping[str, str] | None = None) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, this node's certificate, its key), PEM. Raises AuthError
    naming the variable and the file when one is unset or unreadable."""
    env = os.environ if env is None else env
    out = []
    for var in (ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY):
        path = env.get(var, "").strip()
        if not path:
            raise AuthError(f"{ENV_USE_TLS} is set but {var} is not (polyray tls generate DIR makes a set)")
        try:
            with open(path, "rb") as f:
                out.append(f.read())
        except OSError as e:
            raise AuthError(f"cannot read {var} {path}: {e.strerror or type(e).__name__}") from e
    return out[0], out[1], out[2]


def channel_credentials() -> grpc.ChannelCredentials:
    """Mutual TLS for a client: trusts the cluster's CA and presents this node's certificate."""
    ca, cert, key = tls_files()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def server_credentials() -> grpc.ServerCredentials:
    """Mutual TLS for a server: its certificate, and clients must present one the CA signed."""
    ca, cert, key = tls_files()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


_ssl_lock = threading.Lock()
_ssl_cache: dict[tuple[bool, str, str, str], ssl.SSLContext] = {}


def push_ssl_context(server: bool) -> ssl.SSLContext:
    """Mutual TLS for the push port (docs/security.md, "TLS"), cached per process.

    The same files as gRPC: this node's certificate and key are presented on
    both ends, and the peer must show a certificate the CA signed
    (``CERT_REQUIRED`` both ways); a client also checks that the worker's
    certificate names the host it dialled, as gRPC does. TLS 1.2 at least.
    A peer that ends the TCP stream without a TLS close_notify is read as a
    clean end: the caller's half-close is a plain TCP FIN (docs/protocol.md
    §7.2). Raises AuthError naming the variable and file when one is unusable."""
    env = os.environ
    ca, cert, private = (env.get(v, "").strip() for v in (ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY))
    key = (server, ca, cert, private)
    ctx = _ssl_cache.get(key)
    if ctx is not None:
        return ctx
    with _ssl_lock:
        tls_files()  # the errors name the variable and the file
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(cert, private)
            ctx.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            raise AuthError(f"cannot set up TLS for the push port from {ENV_TLS_CERT}={cert}, "
                            f"{ENV_TLS_KEY}={private}, {ENV_TLS_CA}={ca}: {e}") from e
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        _ssl_cache[key] = ctx
        return ctx


def https_ssl_context() -> ssl.SSLContext:
    """The dashboard's HTTPS under POLYRAY_USE_TLS: this node's certificate and key,
    server authentication only (browsers present no client certificate; the
    cluster token still gates every request)."""
    tls_files()  # the errors name the variable and the file
    cert, private = (os.environ.get(v, "").strip() for v in (ENV_TLS_CERT, ENV_TLS_KEY))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, private)
    except (OSError, ssl.SSLError) as e:
        raise AuthError(f"cannot set up HTTPS from {ENV_TLS_CERT}={cert}, {ENV_TLS_KEY}={private}: {e}") from e
    return ctx


class TlsPipe:
    """One connection's TLS on memory buffers: the socket stays a plain one.

    ``feed`` takes received bytes and returns the plaintext they complete;
    ``wrap`` returns the bytes to send for some plaintext; ``outgoing``
    returns what TLS itself has to send (handshake, alerts). Not thread-safe:
    its owner serializes every call, and sends the bytes in the order they
    were returned. Errors (handshake refused, bad record) raise ssl.SSLError."""

    __slots__ = ("_in", "_out", "_obj", "ready", "closed")

    def __init__(self, ctx: ssl.SSLContext, *, server_side: bool, server_hostname: str | None = None) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=server_side, server_hostname=server_hostname)
        #: The handshake is done: plaintext may be wrapped.
        self.ready = False
        #: The peer sent close_notify.
        self.closed = False

    def start(self) -> bytes:
        """A client's first flight (ClientHello)."""
        self._handshake()
        return self._out.read()

    def _handshake(self) -> None:
        try:
            self._obj.do_handshake()
            self.ready = True
        except ssl.SSLWantReadError:
            pass

    def feed(self, data: bytes) -> bytes:
        if data:
            self._in.write(data)
        if not self.ready:
            self._handshake()
            if not self.ready:
                return b""
        chunks = []
        while not self.closed:
            try:
                chunk = self._obj.read(1 << 20)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.closed = True
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def wrap(self, data: bytes) -> bytes:
        view = memoryview(data)
        while view:
            n = self._obj.write(view)
            view = view[n:]
        return self._out.read()

    def outgoing(self) -> bytes:
        return self._out.read()


# ----------------------------------------------------------------- clients

def call_metadata(token: str | None = None) -> tuple[tuple[str, str], ...]:
    """The metadata of one call: the bearer token, or nothing when auth is disabled."""
    token = current_token() if token is None else token
    return ((METADATA_KEY, BEARER + token),) if token else ()


def _with_metadata(details: Any, metadata: tuple[tuple[str, str], ...], cls: Any) -> Any:
    md = list(details.metadata or ()) + list(metadata)
    fields = {f: getattr(details, f) for f in cls._fields}
    fields["metadata"] = md if cls is not grpc.aio.ClientCallDetails else grpc.aio.Metadata(*md)
    return cls(**fields)


class _AioAuthBase:
    """Adds the bearer token to the calls of a grpc.aio channel (one subclass per call kind:
    grpc.aio files an interceptor under the first kind it is an instance of)."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._md = metadata

    def _details(self, details: Any) -> Any:
        COUNTS["made"] += 1
        return _with_metadata(details, self._md, grpc.aio.ClientCallDetails)


class _AioUU(_AioAuthBase, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _AioUS(_AioAuthBase, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _AioSU(_AioAuthBase, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)


class _AioSS(_AioAuthBase, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)


class _SyncDetails:
    """A grpc.ClientCallDetails with the token added."""

    def __init__(self, details: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        COUNTS["made"] += 1
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = list(details.metadata or ()) + list(metadata)
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class _SyncAuth(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the bearer token to every call of a blocking channel."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._md = metadata

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_SyncDetails(details, self._md), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_SyncDetails(details, self._md), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(_SyncDetails(details, self._md), request_iterator)

    def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(_SyncDetails(details, self._md), request_iterator)


def aio_channel(target: str, options: list[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
    """A grpc.aio channel to ``target`` whose every call carries the cluster token."""
    md = call_metadata()
    interceptors = [cls(md) for cls in (_AioUU, _AioUS, _AioSU, _AioSS)] if md else None
    if tls_enabled():
        return grpc.aio.secure_channel(target, channel_credentials(), options=options, interceptors=interceptors)
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)


def channel(target: str, options: list[tuple[str, Any]] | None = None) -> grpc.Channel:
    """A blocking channel to ``target`` whose every call carries the cluster token."""
    if tls_enabled():
        ch = grpc.secure_channel(target, channel_credentials(), options=options)
    else:
        ch = grpc.insecure_channel(target, options=options)
    md = call_metadata()
    return grpc.intercept_channel(ch, _SyncAuth(md)) if md else ch


# ----------------------------------------------------------------- servers

def token_matches(presented: str | bytes | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the expected one."""
    if not presented:
        return False
    if isinstance(presented, str):
        presented = presented.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(presented, expected.encode("utf-8"))


def bearer_token(metadata: Any) -> str | None:
    """The token of an ``authorization: Bearer <token>`` entry of ``metadata``, or None."""
    for key, value in metadata or ():
        if key == METADATA_KEY:
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            return value[len(BEARER):] if value.startswith(BEARER) else None
    return None


def _refusal(method: str, why: str, kind: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        log.warning("refused %s from %s: %s", method, context.peer(), why)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"polyray: {why} (see docs/security.md)")

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await refuse(request, context)
        yield None  # pragma: no cover — abort raised

    # The request is never decoded: a refused call's bytes reach no parser.
    def raw(b: bytes) -> bytes:
        return b
    if kind is not None and kind.response_streaming:
        if kind.request_streaming:
            return grpc.stream_stream_rpc_method_handler(refuse_stream, request_deserializer=raw)
        return grpc.unary_stream_rpc_method_handler(refuse_stream, request_deserializer=raw)
    if kind is not None and kind.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, request_deserializer=raw)
    return grpc.unary_unary_rpc_method_handler(refuse, request_deserializer=raw)


class AuthServerInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every call whose metadata lacks the cluster token (UNAUTHENTICATED).

    One instance on every grpc.aio server polyray builds (GCS, raylet,
    CoreWorker): no method can opt out. The refused call's handler never runs
    and its request is never decoded."""

    def __init__(self, token: str) -> None:
        self._expected = ("Bearer " + token).encode("utf-8")

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        COUNTS["served"] += 1
        presented = None
        for key, value in handler_call_details.invocation_metadata or ():
            if key == METADATA_KEY:
                presented = value
                break
        if presented is not None:
            raw = presented.encode("utf-8", "surrogateescape") if isinstance(presented, str) else presented
            if hmac.compare_digest(raw, self._expected):
                return await continuation(handler_call_details)
            why = "wrong auth token"
        else:
            why = "no auth token"
        handler = await continuation(handler_call_details)
        return _refusal(handler_call_details.method, why, handler)


#: The server option that turns SO_REUSEPORT off: a port in use fails to bind.
NO_REUSEPORT = ("grpc.so_reuseport", 0)


def bind(server: grpc.aio.Server, address: str, what: str) -> int:
    """Bind ``server`` to ``address``; the port. OSError "port in use" when it is taken."""
    try:
        if tls_enabled():
            port = server.add_secure_port(address, server_credentials())
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as e:
        raise OSError(f"{what} cannot listen on {address}: port in use or address not available ({e})") from None
    if port == 0:
        raise OSError(f"{what} cannot listen on {address}: port in use or address not available")
    return port


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The interceptors every polyray grpc.aio server is built with.

    A server started with no token anywhere (a GCS or raylet run in process,
    as tests do) makes the default file as a head would: a server never
    runs without a token unless POLYRAY_AUTH_MODE=disabled."""
    try:
        token = current_token()
    except AuthError:
        if os.environ.get(ENV_TOKEN) or os.environ.get(ENV_TOKEN_PATH):
            raise
        token = ensure_head_token()
    return [AuthServerInterceptor(token)] if token else []


# ----------------------------------------------------------------- push port

#: The largest first frame (a PushHello with a token) a push connection may open with.
MAX_HELLO = 4096


def hello_body(token: str | None = None) -> bytes:
    """The serialized PushHello a push connection starts with (empty token when disabled)."""
    from polyray.protocol import core_worker_pb2 as cw
    token = current_token() if token is None else token
    COUNTS["hello_sent"] += 1
    return cw.PushHello(auth_token=(token or "").encode("utf-8")).SerializeToString()


def hello_ok(body: bytes, token: str | None) -> bool:
    """Whether a push connection's first frame carries ``token`` (always true when disabled)."""
    COUNTS["hello_checked"] += 1
    if token is None:
        return True
    from polyray.protocol import core_worker_pb2 as cw
    try:
        hello = cw.PushHello.FromString(body)
    except Exception:  # noqa: BLE001 — garbage is a refusal, not a crash
        return False
    return hmac.compare_digest(hello.auth_token, token.encode("utf-8"))
