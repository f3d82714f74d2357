"""PinObjects, FreeObjects and ReadObject against the node's real store."""

from __future__ import annotations

import os

import grpc
import pytest

from polyray.protocol import common_pb2, raylet_pb2
from polyray.store import Store

from .fakes import running_raylet


def _info(store: Store, oid: bytes):
    return next((i for i in store.list() if i.object_id == oid), None)


async def test_pin_and_free_objects(tmp_path):
    async with running_raylet(tmp_path) as h:
        client = Store.open(h.config.store_name)
        try:
            present, absent = os.urandom(28), os.urandom(28)
            client.put(present, b"primary copy")
            owner = common_pb2.Address(worker_id=os.urandom(28), host="127.0.0.1", port=1)
            reply = await h.stub.PinObjects(
                raylet_pb2.PinObjectsRequest(object_ids=[present, absent], owner=owner), timeout=5
            )
            assert list(reply.pinned) == [True, False]
            assert _info(client, present).pins == 1
            # Pinning again keeps one pin per primary copy.
            await h.stub.PinObjects(
                raylet_pb2.PinObjectsRequest(object_ids=[present], owner=owner), timeout=5
            )
            assert _info(client, present).pins == 1
            # A pinned object survives eviction.
            client.evict(1 << 30)
            assert client.contains(present)

            await h.stub.FreeObjects(raylet_pb2.FreeObjectsRequest(object_ids=[present, absent]), timeout=5)
            assert not client.contains(present) and _info(client, present) is None

            # Deletion waits for a reader still holding a view.
            client.put(absent, b"read while freed")
            await h.stub.PinObjects(
                raylet_pb2.PinObjectsRequest(object_ids=[absent], owner=owner), timeout=5
            )
            view = client.get_one(absent, timeout=0)
            await h.stub.FreeObjects(raylet_pb2.FreeObjectsRequest(object_ids=[absent]), timeout=5)
            assert bytes(view.data) == b"read while freed"
            view.release()
            del view
            assert _info(client, absent) is None
        finally:
            client.close()


async def test_objects_of_dead_owner_are_freed(tmp_path):
    async with running_raylet(tmp_path) as h:
        client = Store.open(h.config.store_name)
        try:
            oid = os.urandom(28)
            client.put(oid, b"owned by a worker")
            reply = await h.lease()
            owner = reply.worker_address
            await h.stub.PinObjects(raylet_pb2.PinObjectsRequest(object_ids=[oid], owner=owner), timeout=5)
            assert h.raylet.objects.is_pinned(oid)
            await h.give_back(reply, disconnect=True)
            from .fakes import wait_for

            await wait_for(lambda: not h.raylet.objects.is_pinned(oid), what="owner's objects freed")
            assert not client.contains(oid)
        finally:
            client.close()


async def test_read_object_in_chunks(tmp_path):
    async with running_raylet(tmp_path) as h:
        client = Store.open(h.config.store_name)
        try:
            oid = os.urandom(28)
            data = os.urandom(100_000)
            client.put(oid, data, b"meta")
            chunks = [
                c async for c in h.stub.ReadObject(
                    raylet_pb2.ReadObjectRequest(object_id=oid, chunk_size=30_000), timeout=5
                )
            ]
            assert [len(c.data) for c in chunks] == [30_000, 30_000, 30_000, 10_000, 4]
            assert [c.offset for c in chunks] == [0, 30_000, 60_000, 90_000, 100_000]
            assert all(c.total_size == 100_000 and c.metadata_size == 4 for c in chunks)
            assert b"".join(c.data for c in chunks) == data + b"meta"
            # The raylet's read pin is gone afterwards.
            assert _info(client, oid).pins == 0

            missing = os.urandom(28)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in h.stub.ReadObject(
                    raylet_pb2.ReadObjectRequest(object_id=missing, timeout_ms=100), timeout=5
                ):
                    pass
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            assert missing.hex() in err.value.details()
        finally:
            client.close()


async def test_read_object_waits_for_seal(tmp_path):
    import asyncio

    async with running_raylet(tmp_path) as h:
        client = Store.open(h.config.store_name)
        try:
            oid = os.urandom(28)

            async def read() -> bytes:
                call = h.stub.ReadObject(
                    raylet_pb2.ReadObjectRequest(object_id=oid, timeout_ms=5000), timeout=10
                )
                return b"".join([c.data async for c in call])

            reader = asyncio.create_task(read())
            await asyncio.sleep(0.3)
            client.put(oid, b"late")
            assert await reader == b"late"
        finally:
            client.close()
