"""The internal key-value store, one keyspace per namespace (each a storage table)."""

from __future__ import annotations

import hashlib

import grpc

from polyray.protocol import gcs_pb2

from .errors import invalid_argument
from .storage import Storage

#: Runtime env packages (polyray.runtime_env.packaging.KV_NAMESPACE): checked before they are stored.
PACKAGE_NAMESPACE = "runtime_env_packages"


def check_package(key: bytes, value: bytes) -> None:
    """A package's key must be its URI, ``gcs://polyray_pkg_<sha256 of value>.zip``,
    and its size within $POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES (100 MiB):
    INVALID_ARGUMENT otherwise, so no node ever fetches a package that does not
    match its name."""
    from polyray.runtime_env.packaging import max_package_bytes, uri_digest

    try:
        digest = uri_digest(key.decode("utf-8", "replace"))
    except ValueError as exc:
        raise invalid_argument(f"runtime env package key: {exc}") from None
    limit = max_package_bytes()
    if len(value) > limit:
        raise invalid_argument(f"runtime env package is {len(value)} bytes, over the limit of {limit}")
    if hashlib.sha256(value).hexdigest() != digest:
        raise invalid_argument("runtime env package does not match the sha256 its key names")


class KVStore:
    """KVPut / KVGet / KVDel / KVKeys over the storage."""

    TABLE_PREFIX = "kv:"

    def __init__(self, storage: Storage) -> None:
        """Serve keys from ``storage``."""
        self._storage = storage

    def _table(self, namespace: str) -> str:
        # The fixed prefix keeps KV namespaces apart from the other tables.
        return self.TABLE_PREFIX + namespace

    async def KVPut(self, request: gcs_pb2.KVPutRequest, context: grpc.aio.ServicerContext) -> gcs_pb2.KVPutReply:
        """Store a value; ``added`` tells whether the key was new."""
        if not request.key:
            raise invalid_argument("key must not be empty")
        if request.namespace == PACKAGE_NAMESPACE:
            check_package(request.key, request.value)
        added = await self._storage.put(
            self._table(request.namespace), request.key, request.value, overwrite=request.overwrite
        )
        return gcs_pb2.KVPutReply(added=added)

    async def KVGet(self, request: gcs_pb2.KVGetRequest, context: grpc.aio.ServicerContext) -> gcs_pb2.KVGetReply:
        """The value under a key, if any."""
        value = await self._storage.get(self._table(request.namespace), request.key)
        if value is None:
            return gcs_pb2.KVGetReply(found=False)
        return gcs_pb2.KVGetReply(found=True, value=value)

    async def KVDel(self, request: gcs_pb2.KVDelRequest, context: grpc.aio.ServicerContext) -> gcs_pb2.KVDelReply:
        """Delete a key, or every key with a prefix (an empty prefix clears the namespace)."""
        table = self._table(request.namespace)
        if request.by_prefix:
            return gcs_pb2.KVDelReply(deleted=await self._storage.delete_prefix(table, request.key))
        if not request.key:
            raise invalid_argument("key must not be empty (set by_prefix to delete by prefix)")
        return gcs_pb2.KVDelReply(deleted=1 if await self._storage.delete(table, request.key) else 0)

    async def KVKeys(self, request: gcs_pb2.KVKeysRequest, context: grpc.aio.ServicerContext) -> gcs_pb2.KVKeysReply:
        """Keys starting with a prefix, sorted."""
        return gcs_pb2.KVKeysReply(keys=await self._storage.keys(self._table(request.namespace), request.prefix))
