// ObjectRecovery of object_recovery.h.
#include "core/object_recovery.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <set>

#include "core/common.h"
#include "core/ids.h"
#include "core/submit_policy.h"

namespace polyray::core {
namespace {

bool Stored(const EntryPtr& e) { return e && !e->envelope && !e->in_store_node.empty(); }

/// Waits up to `ms` for `oid`'s entry; null on timeout.
EntryPtr WaitEntry(MemoryStore& store, const std::string& oid, int64_t ms) {
  struct W {
    std::mutex mu;
    std::condition_variable cv;
    EntryPtr e;
  };
  auto w = std::make_shared<W>();
  uint64_t token = store.Subscribe(oid, [w](const EntryPtr& e) {
    std::lock_guard<std::mutex> lock(w->mu);
    if (!w->e) w->e = e;
    w->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(w->mu);
  w->cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return w->e != nullptr; });
  EntryPtr out = w->e;
  lock.unlock();
  if (!out && token != 0) store.Unsubscribe(oid, token);
  return out;
}

}  // namespace

ObjectRecovery::ObjectRecovery(Deps deps) : d_(std::move(deps)) {}

ObjectRecovery::~ObjectRecovery() { Stop(); }

rpc::ErrorRecord ObjectRecovery::LostRecord(rpc::ErrorReason reason, const std::string& message,
                                            const rpc::ErrorRecord* cause) {
  rpc::ErrorRecord r = SystemError(rpc::OBJECT_LOST, message);
  r.set_reason(reason);
  if (cause != nullptr) *r.mutable_cause() = *cause;
  return r;
}

void ObjectRecovery::Post(std::function<void()> job) {
  if (d_.run) {
    d_.run(std::move(job));
    return;
  }
  std::list<Job> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    for (auto it = threads_.begin(); it != threads_.end();) {
      auto next = std::next(it);
      if (it->done->load()) finished.splice(finished.end(), threads_, it);
      it = next;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    threads_.push_back(Job{std::thread([job = std::move(job), done] {
                             job();
                             done->store(true);
                           }),
                           done});
  }
  for (Job& j : finished) j.thread.join();
}

void ObjectRecovery::PostAnswer(std::function<void()> job, std::function<void()> dropped) {
  if (d_.run) {
    d_.run(std::move(job));
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (stopped_) {
    lock.unlock();
    if (dropped) dropped();
    return;
  }
  answers_.emplace_back(std::move(job), std::move(dropped));
  if (idle_answer_threads_ == 0 && static_cast<int>(answer_threads_.size()) < kAnswerThreads) {
    answer_threads_.emplace_back([this] { AnswerLoop(); });
  } else {
    answer_cv_.notify_one();
  }
}

void ObjectRecovery::AnswerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    idle_answer_threads_++;
    answer_cv_.wait(lock, [this] { return stopped_ || !answers_.empty(); });
    idle_answer_threads_--;
    if (answers_.empty()) return;  // stopped, nothing left
    std::function<void()> job = std::move(answers_.front().first);
    answers_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

void ObjectRecovery::Stop() {
  std::list<Job> threads;
  std::vector<std::thread> answer_threads;
  std::deque<std::pair<std::function<void()>, std::function<void()>>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    dropped.swap(answers_);
    threads.swap(threads_);
    answer_threads.swap(answer_threads_);
  }
  answer_cv_.notify_all();
  for (auto& [job, drop] : dropped) {
    if (drop) drop();  // ends the borrower's call (the server is going away)
  }
  for (std::thread& t : answer_threads) {
    if (t.joinable()) t.join();
  }
  for (Job& j : threads) {
    if (j.thread.joinable()) j.thread.join();
  }
}

bool ObjectRecovery::AnyCopy(const std::string& oid, const EntryPtr& entry) {
  if (!Stored(entry)) return false;
  std::vector<std::string> nodes{entry->in_store_node};
  if (d_.locations) {
    for (const std::string& n : d_.locations(oid)) {
      if (!n.empty() && std::find(nodes.begin(), nodes.end(), n) == nodes.end()) nodes.push_back(n);
    }
  }
  for (const std::string& n : nodes) {
    if (d_.copy_exists(oid, n)) return true;
  }
  return false;
}

void ObjectRecovery::Recover(const std::string& oid, const EntryPtr& seen) {
  EntryPtr current = d_.store.GetIfReady(oid);
  if (seen && current != seen) return;
  if (current && current->envelope) return;  // an inline value or an error: nothing to recompute
  if (!d_.is_owned(oid)) return;
  const std::string tid = oid.substr(0, 24);
  if (IsPutId(oid)) {
    Lose(oid, rpc::REASON_PUT, "object " + Hex(oid) + " was created by Put() and every copy of it is gone (its "
         "node died or it was evicted); a put cannot be recomputed", false);
    return;
  }
  std::optional<Lineage::Entry> entry = d_.lineage.OfObject(oid);
  if (!entry) {
    if (d_.lineage.Recovering(tid)) return;
    if (d_.lineage.WasEvicted(oid)) {
      Lose(oid, rpc::REASON_LINEAGE_EVICTED, "object " + Hex(oid) + " is lost and cannot be recomputed: the "
           "lineage of its task was evicted to keep lineage memory under " +
           std::to_string(d_.lineage.max_bytes()) + " bytes (POLYRAY_LINEAGE_MAX_BYTES)", false);
    } else {
      Lose(oid, rpc::REASON_UNSPECIFIED, "object " + Hex(oid) + " is lost and has no lineage to recompute it "
           "(only returns of normal tasks are recomputed)", false);
    }
    return;
  }
  if (!d_.lineage.BeginRecovery(tid)) return;  // merged with the reconstruction under way
  const rpc::TaskSpec& last = entry->spec;
  std::vector<std::string> returns = ReturnIds(last);
  std::string name = last.name().empty() ? "?" : last.name();
  if (!policy::CanRetry(last.attempt(), last.max_retries())) {
    d_.lineage.EndRecovery(tid);
    for (const std::string& rid : returns) {
      Lose(rid, rpc::REASON_RETRIES_EXHAUSTED, "object " + Hex(rid) + " is lost and cannot be recomputed: its task " +
           name + " has run " + std::to_string(last.attempt() + 1) + " time(s) and max_retries=" +
           std::to_string(last.max_retries()), true);
    }
    return;
  }
  auto task = std::make_shared<PendingTask>();
  task->spec = last;
  task->spec.set_attempt(last.attempt() + 1);
  task->arg_ids = entry->arg_ids;
  for (const std::string& rid : returns) {
    if (Stored(d_.store.GetIfReady(rid))) d_.store.Delete(rid);
  }
  d_.store.Delete(oid);
  Post([this, task, tid, returns, name] {
    std::optional<rpc::ErrorRecord> failure = RestoreArgs(task->arg_ids);
    if (failure) {
      d_.lineage.EndRecovery(tid);
      for (const std::string& rid : returns) {
        if (d_.is_owned(rid)) {
          d_.store.Set(rid, ErrorEntry(LostRecord(rpc::REASON_RETRIES_EXHAUSTED, "object " + Hex(rid) +
                                                      " is lost: an argument of its task " + name +
                                                      " could not be recomputed", &*failure)));
        }
      }
      return;
    }
    d_.add_submitted(task->arg_ids);
    resubmitted_++;
    d_.submit(task);
  });
}

std::optional<rpc::ErrorRecord> ObjectRecovery::RestoreArgs(const std::vector<std::string>& arg_ids) {
  std::vector<std::string> lost;
  std::set<std::string> seen;
  for (const std::string& aid : arg_ids) {
    if (!seen.insert(aid).second || !d_.is_owned(aid)) continue;  // borrowed: its owner recovers it
    EntryPtr e = d_.store.GetIfReady(aid);
    if (!Stored(e)) continue;  // pending, inline, or an error the task will see
    if (!AnyCopy(aid, e)) {
      Recover(aid, e);
      lost.push_back(aid);
    }
  }
  for (const std::string& aid : lost) {
    EntryPtr e = WaitEntry(d_.store, aid, kArgWaitMs);
    if (!e) {
      return LostRecord(rpc::REASON_UNSPECIFIED, "argument " + Hex(aid) + " was not recomputed within " +
                                                     std::to_string(kArgWaitMs / 1000) + " s");
    }
    if (e->is_error()) {
      rpc::ErrorRecord r;
      if (r.ParseFromString(e->envelope->body())) return r;
      return LostRecord(rpc::REASON_UNSPECIFIED, "argument " + Hex(aid) + " could not be recomputed");
    }
  }
  return std::nullopt;
}

std::optional<rpc::ErrorRecord> ObjectRecovery::OnFinished(const rpc::TaskSpec& spec, const rpc::ErrorRecord* record) {
  if (!d_.lineage.EndRecovery(spec.task_id()) || record == nullptr) return std::nullopt;
  if (record->kind() == rpc::TASK_ERROR) return std::nullopt;  // the task raised: the value, as on a first run
  return LostRecord(rpc::REASON_RETRIES_EXHAUSTED,
                    "the objects of task " + (spec.name().empty() ? Hex(spec.task_id()) : spec.name()) +
                        " were lost and recomputing them failed after " + std::to_string(spec.attempt() + 1) +
                        " run(s) (max_retries=" + std::to_string(spec.max_retries()) + ")",
                    record);
}

void ObjectRecovery::Lose(const std::string& oid, rpc::ErrorReason reason, const std::string& message,
                          bool only_stored) {
  if (!d_.is_owned(oid)) return;
  EntryPtr e = d_.store.GetIfReady(oid);
  if (only_stored && e && e->envelope) return;
  if (e) d_.store.Delete(oid);
  d_.store.Set(oid, ErrorEntry(LostRecord(reason, message)));
}

}  // namespace polyray::core
