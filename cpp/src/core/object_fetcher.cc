// ObjectFetcher of object_fetcher.h.
#include "core/object_fetcher.h"

#include <algorithm>

namespace polyray::core {

void ObjectFetcher::Fetch(const std::string& oid, const rpc::Address& owner) { Fetch({{oid, owner}}); }

void ObjectFetcher::Fetch(const std::vector<std::pair<std::string, rpc::Address>>& items) {
  std::vector<std::pair<std::string, Sends>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> touched;
    for (const auto& [oid, owner] : items) {
      if (!fetching_.insert(oid).second) continue;
      const std::string& key = owner.worker_id();
      Owner& o = owners_[key];
      if (o.queue.empty() && o.calls.empty()) {
        o.address = owner;
        touched.push_back(key);
      }
      o.queue.push_back(oid);
    }
    for (const std::string& key : touched) {
      Sends sends;
      PumpLocked(key, owners_[key], &sends);
      all.emplace_back(key, std::move(sends));
    }
    for (const auto& [oid, owner] : items) {
      // Owners that had calls open already: their new ids may need a slot made.
      const std::string& key = owner.worker_id();
      if (std::find(touched.begin(), touched.end(), key) != touched.end()) continue;
      auto it = owners_.find(key);
      if (it == owners_.end()) continue;
      touched.push_back(key);
      Sends sends;
      PumpLocked(key, it->second, &sends);
      all.emplace_back(key, std::move(sends));
    }
  }
  for (auto& [key, sends] : all) Run(key, std::move(sends));
}

void ObjectFetcher::PumpLocked(const std::string& key, Owner& o, Sends* out) {
  if (o.legacy) {
    while (!o.queue.empty()) {
      out->one_by_one.emplace_back(o.queue.front(), o.address);
      fetching_.erase(o.queue.front());
      o.queue.pop_front();
    }
    return;
  }
  // Every slot held by calls that only wait, and new ids queued: make room.
  if (static_cast<int>(o.calls.size()) >= d_.max_in_flight && !o.queue.empty()) {
    bool fresh = std::any_of(o.queue.begin(), o.queue.end(), [&](const std::string& id) { return !o.not_ready.count(id); });
    bool all_waiting =
        std::all_of(o.calls.begin(), o.calls.end(), [](const std::shared_ptr<Call>& c) { return c->waiting; });
    if (fresh && all_waiting) {
      auto victim = std::find_if(o.calls.begin(), o.calls.end(),
                                 [](const std::shared_ptr<Call>& c) { return !c->cancelled && c->cancel; });
      if (victim != o.calls.end()) {
        (*victim)->cancelled = true;
        out->cancels.push_back((*victim)->cancel);
      }
    }
  }
  while (!o.queue.empty() && static_cast<int>(o.calls.size()) < d_.max_in_flight) {
    auto call = std::make_shared<Call>();
    call->waiting = true;
    while (!o.queue.empty() && static_cast<int>(call->ids.size()) < d_.max_ids) {
      const std::string& id = o.queue.front();
      if (!o.not_ready.count(id)) call->waiting = false;
      call->ids.push_back(id);
      o.queue.pop_front();
    }
    o.calls.push_back(call);
    out->calls.emplace_back(call, o.address);
    calls_sent_++;
  }
  most_in_flight_ = std::max(most_in_flight_, static_cast<int>(o.calls.size()));
  (void)key;
}

void ObjectFetcher::Run(const std::string& key, Sends sends) {
  for (auto& cancel : sends.cancels) cancel();
  for (auto& [oid, owner] : sends.one_by_one) d_.fetch_one(oid, owner);
  for (auto& [call, owner] : sends.calls) {
    std::function<void()> cancel;
    std::shared_ptr<Call> c = call;
    bool sent = d_.send(owner, c->ids, &cancel, [this, key, c](const grpc::Status& st, rpc::GetObjectsReply& reply) {
      OnDone(key, c, st, reply);
    });
    std::lock_guard<std::mutex> lock(mu_);
    if (!sent) {
      // Shutting down: nothing will answer these ids.
      auto it = owners_.find(key);
      if (it != owners_.end()) {
        auto& calls = it->second.calls;
        calls.erase(std::remove(calls.begin(), calls.end(), c), calls.end());
      }
      for (const std::string& id : c->ids) fetching_.erase(id);
      continue;
    }
    c->cancel = std::move(cancel);
  }
}

void ObjectFetcher::OnDone(const std::string& key, const std::shared_ptr<Call>& call, const grpc::Status& status,
                           rpc::GetObjectsReply& reply) {
  std::vector<std::pair<std::string, rpc::GetObjectReply*>> answers;
  std::vector<std::string> failed;
  rpc::Address owner;
  Sends sends;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = owners_.find(key);
    if (it == owners_.end()) return;
    Owner& o = it->second;
    owner = o.address;
    o.calls.erase(std::remove(o.calls.begin(), o.calls.end(), call), o.calls.end());
    if (status.ok()) {
      std::unordered_set<std::string> mine(call->ids.begin(), call->ids.end());
      int n = std::min(reply.object_ids_size(), reply.objects_size());
      for (int i = 0; i < n; ++i) {
        const std::string& id = reply.object_ids(i);
        if (mine.erase(id) == 0) continue;  // not asked in this call (or twice)
        answers.emplace_back(id, reply.mutable_objects(i));
        fetching_.erase(id);
        o.not_ready.erase(id);
      }
      // Not answered: not ready yet; asked again, ahead of newer ids.
      for (auto rit = call->ids.rbegin(); rit != call->ids.rend(); ++rit) {
        if (!mine.count(*rit)) continue;
        o.not_ready.insert(*rit);
        o.queue.push_front(*rit);
      }
    } else if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      o.legacy = true;
      for (auto rit = call->ids.rbegin(); rit != call->ids.rend(); ++rit) o.queue.push_front(*rit);
    } else if (call->cancelled && status.error_code() == grpc::StatusCode::CANCELLED) {
      for (const std::string& id : call->ids) o.queue.push_back(id);  // behind the new ids
    } else {
      for (const std::string& id : call->ids) {
        fetching_.erase(id);
        o.not_ready.erase(id);
        failed.push_back(id);
      }
    }
    PumpLocked(key, o, &sends);
    if (o.queue.empty() && o.calls.empty() && !o.legacy) owners_.erase(it);  // old owners are remembered
  }
  for (auto& [id, one] : answers) d_.answered(id, owner, *one);
  for (const std::string& id : failed) d_.failed(id, owner, status);
  Run(key, std::move(sends));
}

size_t ObjectFetcher::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetching_.size();
}

int ObjectFetcher::most_in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return most_in_flight_;
}

int64_t ObjectFetcher::calls_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_sent_;
}

}  // namespace polyray::core
