"""GCS settings: timeouts of heartbeats and of every outgoing RPC, queue bounds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GcsConfig:
    """Tunables of the GCS; the defaults suit a real cluster, tests shorten them."""

    #: A node with no heartbeat for this long is declared dead.
    node_timeout_s: float = 10.0
    #: Told to raylets at registration; 0 means node_timeout_s / 10 (at most 1 s).
    heartbeat_interval_s: float = 0.0
    #: Deadline of RequestWorkerLease for an actor (worker start included).
    lease_timeout_s: float = 60.0
    #: Deadline of the actor creation task pushed to the leased worker: the
    #: constructor runs user code, so this is generous.
    creation_timeout_s: float = 300.0
    #: Deadline of short control RPCs: ReturnWorker, KillWorker, Exit, CancelWorkerLease.
    rpc_timeout_s: float = 5.0
    #: Placement attempts whose lease request failed for infrastructure reasons
    #: (raylet unreachable, lease timed out) before the actor is declared dead.
    max_lease_attempts: int = 10
    #: Backoff between such attempts: first delay, doubling up to the cap.
    lease_retry_base_s: float = 0.2
    lease_retry_max_s: float = 5.0
    #: Log batches buffered per SubscribeLogs stream before the oldest are dropped.
    log_queue_size: int = 1000
    #: gRPC message size limit (exported functions and inline arguments can be large).
    max_message_bytes: int = 512 * 1024 * 1024

    def effective_heartbeat_interval(self) -> float:
        """The interval raylets are told to heartbeat at."""
        if self.heartbeat_interval_s > 0:
            return self.heartbeat_interval_s
        return min(1.0, self.node_timeout_s / 10)

    def grpc_options(self) -> list[tuple[str, int]]:
        """Channel and server options shared by every GCS socket."""
        return [
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
        ]
