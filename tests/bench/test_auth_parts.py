"""benchmarks/auth_parts.py and the auth counters it reads (issue 15).

The counters are checked through a real grpc.aio server and channel built the
way polyray builds them (auth.server_interceptors / auth.aio_channel) and a
real PushHello; the script's ``checks`` and ``table`` run as a user runs
them (a subprocess). Each under ~10 s."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import grpc
import pytest

from polyray.protocol import auth

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "benchmarks", "auth_parts.py")
TOKEN = "cd" * 32


@pytest.mark.timeout(60)
def test_counters_count_each_call_served_and_made_and_each_hello(monkeypatch):
    monkeypatch.setenv(auth.ENV_TOKEN, TOKEN)
    monkeypatch.delenv(auth.ENV_MODE, raising=False)
    monkeypatch.setenv("POLYRAY_USE_TLS", "0")

    async def run() -> tuple[dict, dict]:
        async def echo(req: bytes, ctx: grpc.aio.ServicerContext) -> bytes:
            return req
        server = grpc.aio.server(interceptors=auth.server_interceptors())
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "t.T", {"E": grpc.unary_unary_rpc_method_handler(echo)}),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            before = dict(auth.COUNTS)
            async with auth.aio_channel(f"127.0.0.1:{port}") as ch:
                call = ch.unary_unary("/t.T/E")
                for _ in range(5):
                    assert await call(b"x", timeout=10) == b"x"
            # A call without the token is refused, and its check counts as served.
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as bare:
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await bare.unary_unary("/t.T/E")(b"x", timeout=10)
                assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
            return before, dict(auth.COUNTS)
        finally:
            await server.stop(0)

    before, after = asyncio.run(run())
    assert after["made"] - before["made"] == 5
    assert after["served"] - before["served"] == 6
    h0 = dict(auth.COUNTS)
    body = auth.hello_body(TOKEN)
    assert auth.hello_ok(body, TOKEN) and not auth.hello_ok(b"\xff\x01garbage", TOKEN)
    assert auth.COUNTS["hello_sent"] - h0["hello_sent"] == 1
    assert auth.COUNTS["hello_checked"] - h0["hello_checked"] == 2


def test_read_counts_sums_each_language_over_its_processes(tmp_path):
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import auth_parts
    finally:
        sys.path.pop(0)
    (tmp_path / "py-1.json").write_text(json.dumps({"served": 3, "made": 2, "hello_sent": 1, "hello_checked": 0}))
    (tmp_path / "py-2.json").write_text(json.dumps({"served": 1, "made": 4, "hello_sent": 0, "hello_checked": 1}))
    (tmp_path / "java-3.json").write_text('{"served": 7, "made": 1, "hello_sent": 0, "hello_checked": 2}')
    (tmp_path / "cpp-4.json").write_text("{half a file")  # being written: skipped, read next time
    got = auth_parts.read_counts(str(tmp_path))
    assert got == {"py": {"served": 4, "made": 6, "hello_sent": 1, "hello_checked": 1, "procs": 2},
                   "java": {"served": 7, "made": 1, "hello_sent": 0, "hello_checked": 2, "procs": 1}}


@pytest.mark.timeout(120)
def test_checks_and_table_run(tmp_path):
    out = tmp_path / "checks.json"
    proc = subprocess.run([sys.executable, SCRIPT, "checks", "--repeat", "2", "--calls-repeat", "0",
                           "--json", str(out)], capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    for part in ("server_chain_with", "client_aio_details", "client_sync_details", "hello_make", "hello_check"):
        assert 0 < data[part]["min_us"] <= data[part]["median_us"], (part, data[part])
    counts = tmp_path / "counts.json"
    counts.write_text(json.dumps({"tasks-sync": {"total_per_op": {
        "served": 0.01, "made": 0.01, "hello_sent": 0.001, "hello_checked": 0.001}}}))
    proc = subprocess.run([sys.executable, SCRIPT, "table", str(counts), "--per-call-us", "100", "--hello-us", "10",
                           "--cpu", "tasks-sync=200", "--json", str(tmp_path / "t.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads((tmp_path / "t.json").read_text())["rows"]
    # 0.01 calls x 100 us + 0.001 hellos x 10 us = 1.01 us of 200 us.
    assert row["auth_us_per_op"] == pytest.approx(1.01) and row["percent"] == pytest.approx(0.505)
