// GeneratorStreams of generator_streams.h, and the Runtime's defaults for runtimes without streams.
#include "core/generator_streams.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "polyray/exceptions.h"

namespace polyray {
namespace internal {

GeneratorStep Runtime::NextGeneratorItem(const RefPtr&, size_t, int64_t) {
  throw Error("polyray: this runtime has no generator tasks");
}

void Runtime::DropGenerator(const RefPtr&) {}

}  // namespace internal

namespace core {

void GeneratorStreams::Open(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_[task_id] = std::make_shared<Stream>();
}

bool GeneratorStreams::Wants(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !closed_ && streams_.count(task_id) != 0;
}

bool GeneratorStreams::Repeat(const std::string& task_id, size_t k) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task_id);
  return it != streams_.end() && (k < it->second->taken || it->second->items.count(k) != 0);
}

bool GeneratorStreams::Add(const std::string& task_id, size_t k, internal::RefPtr item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(task_id);
    if (!closed_ && it != streams_.end() && !it->second->finished) {
      it->second->items[k] = std::move(item);
      cv_.notify_all();
      return true;
    }
  }
  return false;  // `item` is released here, outside the lock
}

void GeneratorStreams::Finish(const std::string& task_id, bool failed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task_id);
  if (it == streams_.end()) return;
  it->second->finished = true;
  it->second->failed = failed;
  cv_.notify_all();
}

internal::GeneratorStep GeneratorStreams::Take(const std::string& task_id, size_t k, int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (closed_) throw Error("polyray: the runtime shut down while a generator's item was awaited");
    auto it = streams_.find(task_id);
    if (it == streams_.end()) throw Error("polyray: no generator stream of this task is open here");
    Stream& s = *it->second;
    auto item = s.items.find(k);
    internal::GeneratorStep step;
    if (item != s.items.end()) {
      step.state = internal::GeneratorStep::State::kItem;
      step.item = std::move(item->second);
      s.items.erase(item);
      s.taken = std::max(s.taken, k + 1);
      return step;
    }
    if (s.finished) {  // items precede their task's end on its result stream
      step.state = s.failed ? internal::GeneratorStep::State::kFailed : internal::GeneratorStep::State::kEnded;
      return step;
    }
    if (timeout_ms < 0) {
      cv_.wait(lock);
    } else if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
               std::chrono::steady_clock::now() >= deadline) {
      auto again = streams_.find(task_id);
      if (again != streams_.end() && (again->second->items.count(k) != 0 || again->second->finished)) continue;
      throw GetTimeoutError("polyray: generator item " + std::to_string(k) + " did not arrive within " +
                            std::to_string(timeout_ms) + " ms");
    }
  }
}

void GeneratorStreams::Drop(const std::string& task_id) {
  std::shared_ptr<Stream> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(task_id);
    if (it == streams_.end()) return;
    gone = std::move(it->second);
    streams_.erase(it);
    cv_.notify_all();
  }
  gone.reset();  // its items' refs are released outside the lock
}

void GeneratorStreams::Close() {
  std::unordered_map<std::string, std::shared_ptr<Stream>> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    gone.swap(streams_);
    cv_.notify_all();
  }
}

size_t GeneratorStreams::Held(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(task_id);
  return it == streams_.end() ? 0 : it->second->items.size();
}

size_t GeneratorStreams::OpenCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

}  // namespace core
}  // namespace polyray
