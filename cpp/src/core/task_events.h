// Task events of this process, buffered and sent to the GCS (as Python's
// core/task_events.py and Java's TaskEvents; docs/observability.md).
//
// Every event carries the owner's times its spec holds (TaskSpec.submitted_ns,
// pending_args_ns, pending_node_ns: a Python owner writes them there and reports
// no event of a task that runs, so the worker's event gives the whole row).
//
// Owners record one PENDING_NODE event with SUBMITTED folded in when a task is
// submitted (the C++ submitter queues it for a lease at once) and FAILED for a
// failure the owner decides (OwnedObjects::FailTask); the worker that runs an
// attempt records RUNNING, then FINISHED or FAILED, folded into the RUNNING
// event while that is not sent (a task that ends within a flush interval
// costs one event per reporter). Recording appends one small
// TaskEvent under a mutex; a timer on the scheduler sends what is buffered
// every spec::kEventsFlushIntervalMs with AddTaskEvents (at most
// spec::kEventsMaxPerBatch per call), and Stop sends the rest. At most
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
  /// The owner queued the task (for a lease or its actor): one PENDING_NODE event with
  /// SUBMITTED at `submitted_ns` folded in (prior_state).
  void Queued(const rpc::TaskSpec& spec, int64_t submitted_ns);
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
  /// Sends what is buffered now (async).
  void Flush();

  size_t buffered() const;
  int64_t sent() const;
  std::map<std::string, int64_t> dropped() const;

 private:
  rpc::TaskEvent* AppendLocked(rpc::TaskEventState state, const rpc::TaskSpec& spec);
  /// The buffered event of `token`, if not sent yet and holding one state only.
  rpc::TaskEvent* FoldableLocked(Token token);
  rpc::AddTaskEventsRequest TakeBatchLocked();
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
  std::vector<rpc::TaskEvent> events_;
  // events_[i] has token first_token_ + i (tokens rise by one per event appended).
  Token first_token_ = 1;
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
