"""Where GCS tables persist: a small async key-value interface, in memory by default.

Every table writes through a :class:`Storage`, so a GCS restarted on the same
storage (e.g. a future Redis backend) finds its nodes, jobs, actors, KV
entries, functions and placement groups again. Keys and values are bytes;
tables are named by strings.
"""

from __future__ import annotations

import abc


class Storage(abc.ABC):
    """Async key-value storage partitioned into named tables."""

    @abc.abstractmethod
    async def get(self, table: str, key: bytes) -> bytes | None:
        """The value under ``key``, or None."""

    @abc.abstractmethod
    async def put(self, table: str, key: bytes, value: bytes, *, overwrite: bool = True) -> bool:
        """Store ``value``; returns True when the key was new.

        With ``overwrite=False`` an existing value is kept.
        """

    @abc.abstractmethod
    async def delete(self, table: str, key: bytes) -> bool:
        """Remove ``key``; returns True when it existed."""

    @abc.abstractmethod
    async def keys(self, table: str, prefix: bytes = b"") -> list[bytes]:
        """Keys of ``table`` starting with ``prefix``, sorted."""

    async def get_all(self, table: str) -> dict[bytes, bytes]:
        """Every entry of ``table`` (used when a table loads at start)."""
        entries: dict[bytes, bytes] = {}
        for key in await self.keys(table):
            value = await self.get(table, key)
            if value is not None:
                entries[key] = value
        return entries

    async def delete_prefix(self, table: str, prefix: bytes) -> int:
        """Remove every key starting with ``prefix``; returns how many."""
        count = 0
        for key in await self.keys(table, prefix):
            if await self.delete(table, key):
                count += 1
        return count

    async def close(self) -> None:  # noqa: B027 - a no-op default, not a required method
        """Release connections; the default holds none."""


class InMemoryStorage(Storage):
    """Storage in a dict of dicts: lives as long as the object (the default)."""

    def __init__(self) -> None:
        """Create an empty storage."""
        self._tables: dict[str, dict[bytes, bytes]] = {}

    async def get(self, table: str, key: bytes) -> bytes | None:
        """The value under ``key``, or None."""
        return self._tables.get(table, {}).get(key)

    async def put(self, table: str, key: bytes, value: bytes, *, overwrite: bool = True) -> bool:
        """Store ``value``; returns True when the key was new."""
        entries = self._tables.setdefault(table, {})
        added = key not in entries
        if added or overwrite:
            entries[key] = bytes(value)
        return added

    async def delete(self, table: str, key: bytes) -> bool:
        """Remove ``key``; returns True when it existed."""
        return self._tables.get(table, {}).pop(key, None) is not None

    async def keys(self, table: str, prefix: bytes = b"") -> list[bytes]:
        """Keys of ``table`` starting with ``prefix``, sorted."""
        return sorted(k for k in self._tables.get(table, {}) if k.startswith(prefix))

    async def get_all(self, table: str) -> dict[bytes, bytes]:
        """Every entry of ``table``."""
        return dict(self._tables.get(table, {}))
