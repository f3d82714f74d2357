"""gRPC plumbing shared by the CoreWorker's clients and server: channel options and deadlines."""

from __future__ import annotations

import os

import grpc

from polyray.protocol import auth
from polyray.protocol import common_pb2 as pb
from polyray.protocol import runtime_spec as spec

# Values up to the inline limit travel in messages; large ones go through the
# store, but a batch of tasks or a pulled chunk can still be sizeable.
MAX_MESSAGE = spec.RPC_MAX_MESSAGE_BYTES

CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    # No client keepalive pings: servers (raylet, GCS) would answer a long
    # pending lease with GOAWAY "too_many_pings". A dead peer on this machine
    # closes its socket, which ends calls at once.
    ("grpc.enable_retries", 0),
]

SERVER_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    auth.NO_REUSEPORT,
]

# Default deadline of control-plane calls (GCS, raylet) in seconds: the spec's,
# or POLYRAY_RPC_TIMEOUT_S (a knob for tests: one that proves a wait longer than
# every deadline still ends in its value shortens the deadline, not the proof).
RPC_TIMEOUT = float(os.environ.get("POLYRAY_RPC_TIMEOUT_S") or spec.RPC_TIMEOUT_S)


def aio_channel(address: str) -> grpc.aio.Channel:
    """An asyncio channel to host:port with polyray's options."""
    return auth.aio_channel(address, options=CHANNEL_OPTIONS)


def address_str(addr: pb.Address) -> str:
    """host:port of a common_pb2.Address."""
    return f"{addr.host}:{addr.port}"
