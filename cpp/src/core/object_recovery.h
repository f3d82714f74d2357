// Recomputing lost objects from their lineage (the owner's side; as
// python/polyray/core/object_recovery.py and the Java ObjectRecovery).
//
// When a Get of an object this process owns finds every copy gone, or a
// borrower's GetObject with `lost` finds so, Recover resubmits the task that
// created it (from the Lineage) as a new attempt, counted against the task's
// max_retries, through the normal task submitter. Before that it probes the
// task's arguments this process owns (every known copy, not only the
// primary) and recomputes, recursively, those whose copies are all gone. The task's stored returns are reset in the memory
// store, so every waiting Get sees the new value when the task completes.
//
// An object that cannot come back is completed with an OBJECT_LOST error
// whose reason says why: REASON_PUT, REASON_LINEAGE_EVICTED,
// REASON_RETRIES_EXHAUSTED.
//
// Invariants: one reconstruction per task at a time (Lineage::BeginRecovery);
// arguments resubmitted are counted as submitted until the task finishes;
// the decision runs on the caller's thread, probes and waits for arguments
// on the `run` executor (its own threads in a CoreWorker, joined by Stop);
// answers to borrowers' `lost` run on at most kAnswerThreads threads.
#ifndef POLYRAY_CORE_OBJECT_RECOVERY_H_
#define POLYRAY_CORE_OBJECT_RECOVERY_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/lineage.h"
#include "core/memory_store.h"
#include "core/pending_task.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// Recomputes lost owned objects; see the file comment.
class ObjectRecovery {
 public:
  /// How long recomputing one argument may take before the task fails with it lost.
  static constexpr int64_t kArgWaitMs = 300'000;

  struct Deps {
    Lineage& lineage;
    MemoryStore& store;
    /// Whether an object is owned here (and not freed).
    std::function<bool(const std::string&)> is_owned;
    /// Counts arguments as submitted.
    std::function<void(const std::vector<std::string>&)> add_submitted;
    /// The normal task submitter's Submit.
    std::function<void(PendingTaskPtr)> submit;
    /// (oid, node): does that node's store still hold the object (blocking).
    std::function<bool(const std::string&, const std::string&)> copy_exists;
    /// Every node known to hold a copy of an owned object (the primary and
    /// those pulled elsewhere, from AddObjectLocation); empty: the primary only.
    std::function<std::vector<std::string>(const std::string&)> locations;
    /// Runs a job off the caller's thread; empty: ObjectRecovery's own threads.
    std::function<void(std::function<void()>)> run;
  };

  explicit ObjectRecovery(Deps deps);
  ~ObjectRecovery();
  ObjectRecovery(const ObjectRecovery&) = delete;
  ObjectRecovery& operator=(const ObjectRecovery&) = delete;

  /// `oid` (owned here) has no readable copy: recompute it, or complete it
  /// with its loss. `seen` is the entry the caller found lost; if the memory
  /// store holds another by now, nothing is done.
  void Recover(const std::string& oid, const EntryPtr& seen);
  /// Whether any node known to hold `oid` still does (blocking): the
  /// primary's node first, then every node a copy was pulled to.
  bool AnyCopy(const std::string& oid, const EntryPtr& entry);
  /// Runs the owner's answer to a borrower's `lost` (probes, then a
  /// decision) on a pool of kAnswerThreads threads; more wait in its queue.
  /// `dropped` runs instead when the job will not run (Stop): it must end
  /// the borrower's call.
  void PostAnswer(std::function<void()> job, std::function<void()> dropped = {});
  /// Threads that answer `lost` (each answer is bounded: kProbeMs per copy).
  static constexpr int kAnswerThreads = 4;
  /// A task completed (`record` null) or failed: ends its reconstruction.
  /// For a failed reconstruction, the error its returns get (OBJECT_LOST,
  /// REASON_RETRIES_EXHAUSTED, caused by the failure).
  std::optional<rpc::ErrorRecord> OnFinished(const rpc::TaskSpec& spec, const rpc::ErrorRecord* record);
  /// Joins the recovery threads (after the memory store's waiters were failed).
  void Stop();
  /// Tasks resubmitted to recompute lost objects.
  int64_t resubmitted() const { return resubmitted_.load(); }

  static rpc::ErrorRecord LostRecord(rpc::ErrorReason reason, const std::string& message,
                                     const rpc::ErrorRecord* cause = nullptr);

 private:
  std::optional<rpc::ErrorRecord> RestoreArgs(const std::vector<std::string>& arg_ids);
  /// Runs a reconstruction's job (probes, waits for lost arguments) on a
  /// thread of its own: one per reconstruction under way (merged per task),
  /// since a job may wait for the jobs of its arguments. Finished threads
  /// are joined at the next Post.
  void Post(std::function<void()> job);
  void AnswerLoop();
  void Lose(const std::string& oid, rpc::ErrorReason reason, const std::string& message, bool only_stored);

  Deps d_;
  std::atomic<int64_t> resubmitted_{0};
  std::mutex mu_;
  struct Job {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Job> threads_;                            // guarded by mu_
  std::vector<std::thread> answer_threads_;           // guarded by mu_ (started on demand)
  std::deque<std::pair<std::function<void()>, std::function<void()>>> answers_;  // (job, dropped); guarded by mu_
  std::condition_variable answer_cv_;
  int idle_answer_threads_ = 0;                       // guarded by mu_
  bool stopped_ = false;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_OBJECT_RECOVERY_H_
