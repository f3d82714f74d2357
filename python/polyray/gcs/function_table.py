"""Python functions and classes exported by value, keyed by (job_id, function_hash)."""

from __future__ import annotations

import grpc

from polyray.protocol import gcs_pb2

from .errors import invalid_argument
from .storage import Storage
from .validation import JOB_ID_SIZE, check_id


class FunctionTable:
    """ExportFunction / GetFunction. Entries are immutable: a hash names one content."""

    TABLE = "functions"

    def __init__(self, storage: Storage) -> None:
        """Serve functions from ``storage``."""
        self._storage = storage

    @staticmethod
    def _key(job_id: bytes, function_hash: bytes) -> bytes:
        # job_id has a fixed size, so concatenation is unambiguous.
        return job_id + function_hash

    async def ExportFunction(
        self, request: gcs_pb2.ExportFunctionRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.ExportFunctionReply:
        """Store a pickled function; exporting the same hash again is a no-op."""
        check_id(request.job_id, "job_id", JOB_ID_SIZE)
        if not request.function_hash:
            raise invalid_argument("function_hash must not be empty")
        if not request.pickled:
            raise invalid_argument("pickled must not be empty")
        entry = gcs_pb2.GetFunctionReply(found=True, pickled=request.pickled, name=request.name)
        await self._storage.put(
            self.TABLE, self._key(request.job_id, request.function_hash), entry.SerializeToString(), overwrite=False
        )
        return gcs_pb2.ExportFunctionReply()

    async def GetFunction(
        self, request: gcs_pb2.GetFunctionRequest, context: grpc.aio.ServicerContext
    ) -> gcs_pb2.GetFunctionReply:
        """The pickled function, or found=False."""
        check_id(request.job_id, "job_id", JOB_ID_SIZE)
        if not request.function_hash:
            raise invalid_argument("function_hash must not be empty")
        value = await self._storage.get(self.TABLE, self._key(request.job_id, request.function_hash))
        if value is None:
            return gcs_pb2.GetFunctionReply(found=False)
        return gcs_pb2.GetFunctionReply.FromString(value)
