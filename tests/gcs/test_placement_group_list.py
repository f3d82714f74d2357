"""ListPlacementGroups (docs/observability.md, "Placement groups"): every
group in id order, a page at a time, of one job when asked, removed ones
included with their state; a malformed page token is refused."""

from __future__ import annotations

import grpc
import pytest

from polyray.protocol import gcs_pb2

from .harness import RPC_TIMEOUT, cluster, run
from .test_logs_and_groups import group

pytestmark = pytest.mark.timeout(30)


@run
async def test_list_placement_groups_pages_filters_by_job_and_shows_removal() -> None:
    async with cluster() as c:
        await c.add_node({"CPU": 8.0})
        job_a, job_b = await c.new_job(), await c.new_job()
        groups = [group(job_a) for _ in range(5)] + [group(job_b) for _ in range(2)]
        for g in groups:
            await c.stub.CreatePlacementGroup(gcs_pb2.CreatePlacementGroupRequest(group=g), timeout=RPC_TIMEOUT)
        seen: list[bytes] = []
        token = b""
        pages = 0
        while True:
            reply = await c.stub.ListPlacementGroups(
                gcs_pb2.ListPlacementGroupsRequest(limit=3, page_token=token), timeout=RPC_TIMEOUT)
            pages += 1
            assert reply.total == 7 and len(reply.groups) <= 3
            seen += [g.placement_group_id for g in reply.groups]
            if not reply.next_page_token:
                break
            token = reply.next_page_token
        assert pages == 3 and seen == sorted(g.placement_group_id for g in groups)
        only_b = await c.stub.ListPlacementGroups(gcs_pb2.ListPlacementGroupsRequest(job_id=job_b),
                                                  timeout=RPC_TIMEOUT)
        assert only_b.total == 2 and {g.job_id for g in only_b.groups} == {job_b} and not only_b.next_page_token
        await c.stub.RemovePlacementGroup(
            gcs_pb2.RemovePlacementGroupRequest(placement_group_id=groups[-1].placement_group_id),
            timeout=RPC_TIMEOUT)
        after = await c.stub.ListPlacementGroups(gcs_pb2.ListPlacementGroupsRequest(job_id=job_b),
                                                 timeout=RPC_TIMEOUT)
        states = {g.placement_group_id: g.state for g in after.groups}
        assert states[groups[-1].placement_group_id] == gcs_pb2.PG_REMOVED and len(states) == 2
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await c.stub.ListPlacementGroups(gcs_pb2.ListPlacementGroupsRequest(page_token=b"abc"),
                                             timeout=RPC_TIMEOUT)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
