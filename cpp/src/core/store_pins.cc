// StorePins of store_pins.h.
#include "core/store_pins.h"

#include <chrono>
#include <future>
#include <stdexcept>
#include <utility>

namespace polyray::core {

StorePins::StorePins(PinCall pin, size_t max_in_flight, size_t max_ids, size_t max_unpinned)
    : pin_(std::move(pin)),
      max_in_flight_(max_in_flight ? max_in_flight : 1),
      max_ids_(max_ids ? max_ids : 1),
      max_unpinned_(max_unpinned ? max_unpinned : max_in_flight_ * max_ids_) {}

void StorePins::Add(std::string oid, std::shared_ptr<void> hold, const rpc::Address& owner,
                    std::function<void(bool)> on_done, int64_t room_wait_ms) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!room_.wait_for(lock, std::chrono::milliseconds(room_wait_ms),
                        [this] { return unpinned_ < max_unpinned_; })) {
      lock.unlock();
      hold.reset();
      throw std::runtime_error(std::to_string(max_unpinned_) + " stored objects have waited " +
                               std::to_string(room_wait_ms / 1000) + " s for the raylet to pin them");
    }
    if (closed_) {
      lock.unlock();
      hold.reset();
      if (on_done) on_done(false);
      return;
    }
    ++unpinned_;
    queue_.push_back(Pending{std::move(oid), std::move(hold), owner, std::move(on_done)});
    if (in_flight_ >= max_in_flight_) return;  // goes out with the next answer
  }
  Pump();
}

bool StorePins::AddAndWait(std::string oid, std::shared_ptr<void> hold, const rpc::Address& owner) {
  auto done = std::make_shared<std::promise<bool>>();
  std::future<bool> result = done->get_future();
  Add(std::move(oid), std::move(hold), owner, [done](bool pinned) { done->set_value(pinned); });
  return result.get();  // every call has a deadline, so this ends
}

void StorePins::Pump() {
  for (;;) {
    std::vector<Pending> batch;
    rpc::Address owner;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty() || in_flight_ >= max_in_flight_ || closed_) return;
      owner = queue_.front().owner;
      std::deque<Pending> rest;
      while (!queue_.empty() && batch.size() < max_ids_) {
        Pending& p = queue_.front();
        if (p.owner.worker_id() == owner.worker_id()) {
          batch.push_back(std::move(p));
        } else {
          rest.push_back(std::move(p));
        }
        queue_.pop_front();
      }
      while (!rest.empty()) {
        queue_.push_front(std::move(rest.back()));
        rest.pop_back();
      }
      ++in_flight_;
      ++calls_sent_;
    }
    std::vector<std::string> ids;
    ids.reserve(batch.size());
    for (const Pending& p : batch) ids.push_back(p.oid);
    auto shared = std::make_shared<std::vector<Pending>>(std::move(batch));
    pin_(std::move(ids), owner, [this, shared](bool ok, const std::vector<bool>& pinned) {
      Finish(std::move(*shared), ok, pinned);
    });
  }
}

void StorePins::Finish(std::vector<Pending> batch, bool ok, const std::vector<bool>& pinned) {
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].hold.reset();  // our pin: the raylet's is in place (or the object was freed)
    if (batch[i].on_done) batch[i].on_done(ok && i < pinned.size() && pinned[i]);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    unpinned_ -= batch.size();
  }
  Pump();
  room_.notify_all();  // room for putters; Close waits for in_flight_ == 0
}

void StorePins::Close(int64_t wait_ms) {
  std::deque<Pending> dropped;
  {
    std::unique_lock<std::mutex> lock(mu_);
    closed_ = true;
    dropped.swap(queue_);
    unpinned_ -= dropped.size();
    room_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return in_flight_ == 0; });
  }
  room_.notify_all();
  for (Pending& p : dropped) {
    p.hold.reset();
    if (p.on_done) p.on_done(false);
  }
}

size_t StorePins::waiting() {
  std::lock_guard<std::mutex> lock(mu_);
  return unpinned_;
}

size_t StorePins::calls_sent() {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_sent_;
}

}  // namespace polyray::core
