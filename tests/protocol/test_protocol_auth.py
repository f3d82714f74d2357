"""The cluster token's resolution order, its errors and its file (polyray.protocol.auth)."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from polyray.protocol import auth


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home folder, so the default token file is ours."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in (auth.ENV_MODE, auth.ENV_TOKEN, auth.ENV_TOKEN_PATH):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_env_token_comes_first(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "t"
    f.write_text("from-file\n")
    env = {auth.ENV_TOKEN: "from-env", auth.ENV_TOKEN_PATH: str(f)}
    assert auth.resolve_token(env) == "from-env"


def test_path_comes_before_the_default_file(home: Path, tmp_path: Path) -> None:
    auth.create_token_file()
    f = tmp_path / "t"
    f.write_text("  from-file \n")
    assert auth.resolve_token({auth.ENV_TOKEN_PATH: str(f)}) == "from-file"


def test_default_file_last(home: Path) -> None:
    token = auth.create_token_file()
    assert auth.resolve_token({}) == token


def test_empty_token_file_is_an_error_naming_it(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "empty"
    f.write_text("\n")
    with pytest.raises(auth.AuthError, match=f"{f} is empty"):
        auth.resolve_token({auth.ENV_TOKEN_PATH: str(f)})


def test_missing_token_file_is_an_error_saying_why(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "nope"
    with pytest.raises(auth.AuthError, match=f"cannot read the polyray auth token file {f}: No such file"):
        auth.resolve_token({auth.ENV_TOKEN_PATH: str(f)})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_token_file_is_an_error_saying_why(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "locked"
    f.write_text("x")
    f.chmod(0)
    with pytest.raises(auth.AuthError, match="Permission denied"):
        auth.resolve_token({auth.ENV_TOKEN_PATH: str(f)})


def test_no_token_anywhere_is_an_error_unless_a_head_creates_it(home: Path) -> None:
    with pytest.raises(auth.AuthError, match="no polyray auth token"):
        auth.resolve_token({})
    token = auth.resolve_token({}, create=True)
    assert token is not None and len(bytes.fromhex(token)) == 32
    path = auth.default_token_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert auth.resolve_token({}) == token
    assert auth.resolve_token({}, create=True) == token  # a second head keeps it
    assert [p.name for p in path.parent.iterdir()] == ["auth_token"]  # no temporary left


def test_disabled_mode_needs_no_token(home: Path) -> None:
    assert auth.resolve_token({auth.ENV_MODE: "disabled"}) is None
    assert auth.resolve_token({auth.ENV_MODE: "DISABLED", auth.ENV_TOKEN: "x"}) is None
    assert not (home / ".polyray").exists()


def test_a_bad_mode_is_an_error_not_disabled(home: Path) -> None:
    with pytest.raises(auth.AuthError, match="expected 'token' or 'disabled'"):
        auth.resolve_token({auth.ENV_MODE: "off"})


def _create(path: str, q: multiprocessing.Queue) -> None:
    q.put(auth.create_token_file(path))


def test_racing_heads_end_with_one_token(tmp_path: Path) -> None:
    path = str(tmp_path / "dir" / "auth_token")
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_create, args=(path, q)) for _ in range(6)]
    for p in procs:
        p.start()
    tokens = {q.get(timeout=20) for _ in procs}
    for p in procs:
        p.join(20)
    assert len(tokens) == 1
    assert Path(path).read_text().strip() == tokens.pop()


def test_token_comparison() -> None:
    assert auth.token_matches("abc", "abc")
    assert not auth.token_matches("abd", "abc")
    assert not auth.token_matches("", "abc")
    assert not auth.token_matches(None, "abc")
    assert auth.bearer_token([("authorization", "Bearer t0k")]) == "t0k"
    assert auth.bearer_token([("authorization", "Basic t0k")]) is None
    assert auth.bearer_token([]) is None


def test_push_hello() -> None:
    assert auth.hello_ok(auth.hello_body("tok"), "tok")
    assert not auth.hello_ok(auth.hello_body("other"), "tok")
    assert not auth.hello_ok(auth.hello_body(""), "tok")
    assert not auth.hello_ok(b"\xff\xfe garbage", "tok")
    assert auth.hello_ok(b"", None)


def test_child_env_passes_the_token(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(auth.ENV_TOKEN, "abc")
    assert auth.child_env() == {auth.ENV_MODE: "token", auth.ENV_TOKEN: "abc"}
    monkeypatch.setenv(auth.ENV_MODE, "disabled")
    assert auth.child_env() == {auth.ENV_MODE: "disabled"}


def test_the_server_interceptor_refuses_before_the_handler_and_the_parser(home: Path) -> None:
    """A grpc.aio server with AuthServerInterceptor: no token and a wrong one are
    UNAUTHENTICATED, and neither the handler nor the request parser runs; the
    right token (sent by auth.aio_channel) is served, for unary and streaming calls."""
    import asyncio

    import grpc

    ran: list[str] = []

    def parse(b: bytes) -> bytes:
        ran.append("parse")
        return b

    async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        ran.append("unary")
        return request

    async def stream(it, context: grpc.aio.ServicerContext):
        ran.append("stream")
        async for r in it:
            yield r

    async def main() -> list[tuple[str, str]]:
        handlers = grpc.method_handlers_generic_handler("t.S", {
            "U": grpc.unary_unary_rpc_method_handler(unary, request_deserializer=parse),
            "S": grpc.stream_stream_rpc_method_handler(stream, request_deserializer=parse)})
        server = grpc.aio.server(interceptors=[auth.AuthServerInterceptor("tok")])
        server.add_generic_rpc_handlers((handlers,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        out = []
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                for label, md in (("none", ()), ("wrong", (("authorization", "Bearer tok2"),)),
                                  ("basic", (("authorization", "Basic tok"),))):
                    for kind in ("U", "S"):
                        try:
                            if kind == "U":
                                await ch.unary_unary(f"/t.S/{kind}")(b"x", metadata=md, timeout=10)
                            else:
                                call = ch.stream_stream(f"/t.S/{kind}")(iter([b"x"]), metadata=md, timeout=10)
                                async for _ in call:
                                    pass
                            out.append((label + kind, "OK"))
                        except grpc.aio.AioRpcError as e:
                            out.append((label + kind, e.code().name))
            assert ran == []
            os.environ[auth.ENV_TOKEN] = "tok"
            async with auth.aio_channel(f"127.0.0.1:{port}") as ch:
                assert await ch.unary_unary("/t.S/U")(b"y", timeout=10) == b"y"
                call = ch.stream_stream("/t.S/S")(iter([b"z"]), timeout=10)
                assert [r async for r in call] == [b"z"]
        finally:
            os.environ.pop(auth.ENV_TOKEN, None)
            await server.stop(None)
        return out

    out = asyncio.run(main())
    assert out == [(k, "UNAUTHENTICATED") for k in ("noneU", "noneS", "wrongU", "wrongS", "basicU", "basicS")]
    assert ran == ["parse", "unary", "stream", "parse"]


def test_the_blocking_channel_sends_the_token(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import grpc

    monkeypatch.setenv(auth.ENV_TOKEN, "tok")
    seen: list[str | None] = []

    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen.append(auth.bearer_token(context.invocation_metadata()))
        return request

    from concurrent import futures
    server = grpc.server(futures.ThreadPoolExecutor(1))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "t.S", {"U": grpc.unary_unary_rpc_method_handler(unary)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with auth.channel(f"127.0.0.1:{port}") as ch:
            assert ch.unary_unary("/t.S/U")(b"a", timeout=10) == b"a"
    finally:
        server.stop(None)
    assert seen == ["tok"]
