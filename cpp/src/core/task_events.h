// Task events of this process, buffered and sent to the GCS (as Python's
// core/task_events.py and Java's TaskEvents; docs/observability.md).
//
// One event per task in the common case: an owner writes its times into the
// TaskSpec it pushes (OwnerQueued: submitted_ns, pending_node_ns) and records no
// event of a task whose result comes back (OwnerDone); a flush reports
// PENDING_NODE, once, for a task that has waited a whole interval. The owner
// records FAILED for a failure it decides (OwnedObjects::FailTask) and
// PENDING_NODE for a retry's new attempt. The worker that runs an attempt
// records RUNNING, then FINISHED (folded into the RUNNING record while that is
// not sent) or FAILED; every event carries the owner's times its spec holds, so
// the worker's event gives the whole row.
//
// Recording appends one 76-byte PackedTaskEvents full record (gcs.proto: task
// id, head index, attempt, state, prior state, times, the owner's three times;
// little-endian) to a byte buffer under a mutex: no protobuf built, no object
// per event. The head index names the task's kind (job, language, type, name,
// actor, parent) in this process's head table (at most kMaxHeads kinds; a full
// table is compacted to the kinds still buffered at a send). An event that does
// not fit a record (FAILED, which carries an error; an odd task id; a kind past
// a full table) waits as a TaskEvent. A timer on the scheduler sends what is
// buffered every spec::kEventsFlushIntervalMs with AddTaskEvents (at most
// spec::kEventsMaxPerBatch events per call: the TaskEvents, then the records
// with the heads they name, re-indexed), and Stop sends the rest. At most
// spec::kEventsMaxBufferedPerProcess events wait; past that new ones are
// dropped and counted per job (the count goes with the next batch, as do the
// events of a batch the GCS did not take). POLYRAY_TASK_EVENTS=0 turns it off.
#ifndef POLYRAY_CORE_TASK_EVENTS_H_
#define POLYRAY_CORE_TASK_EVENTS_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"
#include "polyray/protocol/gcs.pb.h"

namespace polyray::core {

class TaskEvents : public std::enable_shared_from_this<TaskEvents> {
 public:
  /// Sends one batch; `done(ok)` runs once (any thread; never inline is not required).
  using Sender = std::function<void(rpc::AddTaskEventsRequest, std::function<void(bool)>)>;
  /// Sends one batch and waits (at shutdown).
  using SyncSender = std::function<bool(const rpc::AddTaskEventsRequest&)>;

  TaskEvents(Clock& clock, Sender send, SyncSender send_sync, std::function<std::string()> node_id,
             std::string worker_id, size_t max_buffered, size_t max_per_batch, int64_t interval_ms);

  /// Whether this process records task events (POLYRAY_TASK_EVENTS, default on).
  static bool Enabled();

  /// Which event a later state may fold into (Running's result; 0: none).
  using Token = uint64_t;

  void Record(rpc::TaskEventState state, const rpc::TaskSpec& spec);
  /// (Owner.) The task is queued (for a lease or its actor): its times go into `spec`
  /// (submitted_ns, pending_node_ns now), which the owner then pushes, so the worker's event
  /// carries them; no event unless it still waits a whole flush interval later (then
  /// PENDING_NODE, once, at a flush).
  void OwnerQueued(rpc::TaskSpec& spec, int64_t submitted_ns);
  /// One PENDING_NODE event with SUBMITTED at `submitted_ns` folded in (prior_state): the
  /// owner's own event, for a caller that does not hand its times to the worker.
  void Queued(const rpc::TaskSpec& spec, int64_t submitted_ns);
  /// (Owner.) The task's result came back, or the owner failed or retried it: no PENDING_NODE
  /// for it any more.
  void OwnerDone(const std::string& task_id);
  /// Tasks queued by OwnerQueued and not done (their events are the workers').
  size_t pending() const;
  /// RUNNING; the token for Ended to fold the end state into while it is not sent.
  Token Running(const rpc::TaskSpec& spec);
  void Failed(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record);
  /// The attempt ran here: FINISHED, or FAILED when a return carries an error; folded into
  /// the RUNNING event of `running` (one event for both) when that is not sent yet.
  void Ended(const rpc::TaskSpec& spec, const rpc::TaskResult& result, Token running = 0);
  /// The wall clock in ns, as events carry it.
  static int64_t NowNs();

  /// Sends every interval until Stop.
  void Start();
  /// Stops the timer and sends what is left (blocking, bounded by the sender's deadline).
  void Stop();
  /// How long Stop waits for a send in flight before it sends the rest.
  static constexpr int64_t kStopWaitMs = 1000;
  /// Kinds of task (heads) one process packs; events of more wait as TaskEvents.
  static constexpr size_t kMaxHeads = 4096;
  /// Bytes of one PackedTaskEvents full record.
  static constexpr size_t kRecordSize = 76;
  /// Sends what is buffered now (async).
  void Flush();

  size_t buffered() const;
  int64_t sent() const;
  std::map<std::string, int64_t> dropped() const;

 private:
  /// A kind of task: what a PackedTaskEvents head carries besides the reporter's place.
  struct Head {
    std::string job_id, name, actor_id, parent_task_id;
    rpc::Language language;
    rpc::TaskType type;
  };
  /// Buffers one event (a record, or a TaskEvent when it does not fit one): its token while
  /// it is a record not sent (Ended folds into it), else 0.
  Token AppendLocked(rpc::TaskEventState state, const rpc::TaskSpec& spec, int64_t ts);
  /// The index of spec's kind in the head table (added if new), or -1 when the table is full.
  int32_t HeadLocked(const rpc::TaskSpec& spec);
  void PackLocked(const std::string& task_id, uint32_t head, int32_t attempt, rpc::TaskEventState state,
                  int64_t ts, int64_t submitted_ns, int64_t pending_args_ns, int64_t pending_node_ns);
  /// A full head table: keeps only the kinds buffered records and pending tasks name (re-indexed).
  void CompactHeadsLocked();
  /// PENDING_NODE for each task queued before the last flush and not done (all: every one), once.
  void TakePendingLocked(bool all);
  size_t BufferedLocked() const { return records_.size() / kRecordSize + singles_.size(); }
  rpc::AddTaskEventsRequest TakeBatchLocked();
  static int Count(const rpc::AddTaskEventsRequest& req);
  void Requeue(const rpc::AddTaskEventsRequest& req);
  void Tick();

  Clock& clock_;
  Sender send_;
  SyncSender send_sync_;
  std::function<std::string()> node_id_;
  std::string worker_id_;
  int32_t pid_;
  size_t max_buffered_;
  size_t max_per_batch_;
  int64_t interval_ms_;
  mutable std::mutex mu_;
  // Packed full records, kRecordSize bytes each; record i has token first_token_ + i
  // (tokens rise by one per record appended).
  std::string records_;
  Token first_token_ = 1;
  // Events that do not fit a record (FAILED, odd ids, a kind past a full table).
  std::vector<rpc::TaskEvent> singles_;
  std::vector<Head> heads_;
  std::unordered_map<std::string, uint32_t> head_index_;  // HeadLocked's key -> index in heads_
  std::string key_;                                       // HeadLocked's key, reused
  int32_t last_head_ = -1;                                // the kind of the last event (checked first)
  // (Owner.) Tasks queued here and not done: task id -> what their PENDING_NODE record needs.
  struct Pending {
    uint32_t head;
    int32_t attempt;
    int64_t submitted_ns, pending_node_ns;
    bool seen;  // a flush found it waiting: the next one reports it
  };
  std::unordered_map<std::string, Pending> pending_;
  std::map<std::string, int64_t> dropped_;
  bool started_ = false;
  bool stopped_ = false;
  bool in_flight_ = false;
  // Signalled when a send in flight ends (Stop waits for it, bounded).
  std::condition_variable idle_;
  int64_t sent_ = 0;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_TASK_EVENTS_H_
