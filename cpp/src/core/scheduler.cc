// The timer thread of scheduler.h.
#include "core/scheduler.h"

namespace polyray::core {

Scheduler::Scheduler() : thread_([this] { Loop(); }) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::RunAfter(int64_t delay_ms, std::function<void()> fn) {
  auto when = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms < 0 ? 0 : delay_ms);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    due_.emplace(when, std::move(fn));
  }
  cv_.notify_one();
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ && !thread_.joinable()) return;
    stopped_ = true;
    due_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = due_.begin();
    if (first->first > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    due_.erase(first);
    lock.unlock();
    fn();
    fn = nullptr;  // destroy captures outside the lock
    lock.lock();
  }
}

}  // namespace polyray::core
