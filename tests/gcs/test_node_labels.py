"""The GCS places actors on nodes whose labels match their label_selector,
trying fallback_strategy selectors in order (NodeTable.pick; issue 17)."""

from __future__ import annotations

from polyray.gcs.config import GcsConfig
from polyray.gcs.node_table import NodeTable
from polyray.gcs.storage import InMemoryStorage
from polyray.protocol import common_pb2, gcs_pb2

A, B, C = b"A" * 28, b"B" * 28, b"C" * 28


def _table() -> NodeTable:
    table = NodeTable(InMemoryStorage(), GcsConfig())
    for node_id, labels, cpus, free in ((A, {"zone": "a"}, 4, 4), (B, {"zone": "b"}, 2, 2), (C, {"zone": "c"}, 2, 0)):
        table._nodes[node_id] = gcs_pb2.NodeInfo(node_id=node_id, alive=True, labels=labels,
                                                 resources_total={"CPU": cpus}, resources_available={"CPU": free})
    return table


def _strategy(selector: dict[str, str], *fallback: dict[str, str],
              kind: int = common_pb2.SCHEDULING_DEFAULT) -> common_pb2.SchedulingStrategy:
    s = common_pb2.SchedulingStrategy(kind=kind, label_selector=selector)
    for each in fallback:
        s.fallback.add().selector.update(each)
    return s


def test_actors_go_only_to_matching_nodes():
    table = _table()
    assert table.pick({"CPU": 1}, A, _strategy({"zone": "b"})).node_id == B
    assert table.pick({"CPU": 1}, b"", _strategy({"zone": "!in(a,c)"})).node_id == B
    assert table.pick({"CPU": 1}, b"", _strategy({"zone": "in(a,b)"}, kind=common_pb2.SCHEDULING_SPREAD)).node_id == A
    assert table.pick({"CPU": 1}, A, _strategy({})).node_id == A


def test_fallbacks_in_order_and_a_busy_match_waits():
    table = _table()
    chain = _strategy({"zone": "x"}, {"zone": "y"}, {"zone": "b"}, {"zone": "a"})
    assert table.pick({"CPU": 1}, b"", chain).node_id == B
    # A matching node too small ever to hold the actor does not count: the next selector is used.
    assert table.pick({"CPU": 3}, b"", _strategy({"zone": "b"}, {"zone": "a"})).node_id == A
    # A matching node that is only busy now: the actor waits for it (None), no fallback.
    assert table.pick({"CPU": 1}, b"", _strategy({"zone": "c"}, {"zone": "a"})) is None
    assert table.pick({"CPU": 1}, b"", _strategy({"zone": "nowhere"})) is None


def test_unmatched_selectors_say_why_only_when_no_node_able_to_hold_it_matches():
    table = _table()
    assert table.unmatched_selectors({"CPU": 1}, _strategy({"zone": "c"})) == "", "busy but matching"
    assert table.unmatched_selectors({"CPU": 1}, _strategy({})) == "", "no selector"
    assert table.unmatched_selectors({"CPU": 1}, None) == ""
    why = table.unmatched_selectors({"CPU": 3}, _strategy({"zone": "b"}, {"zone": "x"}))
    assert why == ("no node that could hold {'CPU': 3} has labels matching its label_selector {'zone': 'b'} "
                   "or its fallback_strategy [{'zone': 'x'}]"), why
    affinity = _strategy({"zone": "x"}, kind=common_pb2.SCHEDULING_NODE_AFFINITY)
    assert table.unmatched_selectors({"CPU": 1}, affinity) == ""
