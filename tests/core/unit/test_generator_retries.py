"""GeneratorStreams (python/polyray/core/generators.py) when a generator task is retried: the
items a new attempt yields again are duplicates of those the stream already received (the ids are
the same, by index) and are dropped, so each item reaches the consumer once, in order; a
duplicate's store copy on another node is one more copy of the object (freed with it), or freed
at once when the object is already gone; what a duplicate lends is acknowledged."""

from __future__ import annotations

from polyray.core.generators import GeneratorStreams, item_id
from polyray.protocol import common_pb2 as pb

TASK = b"T" * 24
NODE_A, NODE_B = b"a" * 28, b"b" * 28
ME = b"w" * 28


class _Refs:
    def __init__(self) -> None:
        self.owned: list[bytes] = []
        self.acked: list[list[bytes]] = []

    def add_owned(self, oid: bytes) -> None:
        self.owned.append(oid)

    def ack_returned(self, ids: list[bytes], worker_id: bytes, lender: bytes) -> None:
        self.acked.append(ids)


class _Owned:
    def __init__(self) -> None:
        self.recorded: list[bytes] = []
        self.live: set[bytes] = set()
        self.locations: list[tuple[bytes, bytes]] = []
        self.freed: list[tuple[bytes, list[bytes]]] = []

    def record_return(self, item: pb.ReturnObject) -> None:
        self.recorded.append(item.object_id)
        self.live.add(item.object_id)

    def is_owned(self, oid: bytes) -> bool:
        return oid in self.live

    def add_location(self, oid: bytes, node: bytes) -> None:
        self.locations.append((oid, node))

    def queue_free(self, oid: bytes, nodes: list[bytes]) -> None:
        self.freed.append((oid, list(nodes)))


def _streams() -> tuple[GeneratorStreams, _Refs, _Owned]:
    refs, owned = _Refs(), _Owned()
    streams = GeneratorStreams(references=refs, owned=owned, memory_store=None, worker_id=ME)  # type: ignore[arg-type]
    return streams, refs, owned


def _item(k: int, node: bytes = b"", nested: bytes = b"") -> pb.ReturnObject:
    item = pb.ReturnObject(object_id=item_id(TASK, k - 1))
    if node:
        item.in_store_node = node
    else:
        item.value.body = bytes([k])
    if nested:
        item.nested_refs.add(object_id=nested)
    return item


def test_a_retry_yielding_every_item_again_gives_each_to_the_consumer_once_in_order():
    streams, refs, owned = _streams()
    spec = pb.TaskSpec(task_id=TASK)
    stream = streams.open(TASK, dynamic=False)
    for k in (1, 2, 3):  # the first attempt: three items, then its worker dies
        streams.on_item(spec, _item(k), k)
    taken = [streams.take(stream, 0), streams.take(stream, 1)]   # the consumer took two
    for k in (1, 2, 3, 4, 5):  # the retry yields from the first item
        streams.on_item(spec, _item(k), k)
    assert owned.recorded == [item_id(TASK, k) for k in range(5)], "each item recorded once"
    assert refs.owned == owned.recorded
    rest = [streams.take(stream, k) for k in (2, 3, 4)]
    assert [r.binary() for r in taken + rest if r is not None] == [item_id(TASK, k) for k in range(5)]
    assert streams.take(stream, 0) is None and streams.take(stream, 1) is None, "nothing taken twice"
    assert stream.items == {}


def test_a_duplicates_store_copy_is_kept_with_the_object_or_freed_when_it_is_gone():
    streams, refs, owned = _streams()
    spec = pb.TaskSpec(task_id=TASK)
    streams.open(TASK, dynamic=False)
    streams.on_item(spec, _item(1, NODE_A), 1)
    streams.on_item(spec, _item(2, NODE_A), 2)
    owned.live.discard(item_id(TASK, 1))    # the consumer let item 2 go: freed
    streams.on_item(spec, _item(1, NODE_B, nested=b"n" * 28), 1)   # the retry ran on another node
    streams.on_item(spec, _item(2, NODE_B), 2)
    assert owned.locations == [(item_id(TASK, 0), NODE_B)], "a copy of a live item: freed with it"
    assert owned.freed == [(item_id(TASK, 1), [NODE_B])], "a copy of a freed item: freed now"
    assert [[r.object_id for r in ids] for ids in refs.acked] == [[b"n" * 28]], \
        "what the duplicate lends is acknowledged"
    assert owned.recorded == [item_id(TASK, 0), item_id(TASK, 1)]
