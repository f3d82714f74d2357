// The generator tasks this process called (a C++ caller's side of
// num_returns="streaming", as Python's core/generators.py): the items each
// reported so far, until its consumer (ObjectRefGenerator) takes them.
//
// The worker sends each item as it is yielded, as a TaskResult with
// generator_item = k (1-based) on the task's own result stream, before the
// task's final result. Item k is a return object owned by the caller, id =
// ReturnId(task, k + 1); return 1 is the end of the stream (the item count, or
// the generator's error). OwnedObjects records an item (AddOwned + its value)
// only while its stream wants it and hands the counted ref to Add.
//
// Invariants: an item is held here until the consumer takes it (then the
// consumer's ObjectRef holds it); Drop lets go of the items held and makes
// later ones unwanted (the owner then frees them as it frees any return
// nobody references); Finish wakes the consumer, which then learns whether
// the stream failed; after Close every wait ends. Refs are never released
// under the lock (their deleters reach the reference counter).
#ifndef POLYRAY_CORE_GENERATOR_STREAMS_H_
#define POLYRAY_CORE_GENERATOR_STREAMS_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "polyray/internal/runtime.h"

namespace polyray::core {

/// The open generator streams of this process; see the file comment. Thread-safe.
class GeneratorStreams {
 public:
  /// Starts keeping the items of `task_id` (before the task is submitted).
  void Open(const std::string& task_id);
  /// Whether the stream of `task_id` still takes items (open, not dropped).
  bool Wants(const std::string& task_id) const;
  /// Whether item `k` (0-based) of `task_id` was taken or is held already: a
  /// retried attempt yields its items again from the first, and the first
  /// copy stays (items are deterministic by index, as Ray's retries require).
  bool Repeat(const std::string& task_id, size_t k) const;
  /// Item `k` (0-based) of `task_id` arrived, counted as `item`; false (and
  /// `item` released) when nobody takes it any more.
  bool Add(const std::string& task_id, size_t k, internal::RefPtr item);
  /// The task ended (its end object is set): `failed` when with an error.
  void Finish(const std::string& task_id, bool failed);
  /// Item `k` once it arrived (handed over), or how the stream ended without
  /// it. Throws GetTimeoutError after `timeout_ms` (< 0: no limit), and
  /// polyray::Error for a stream not open here or after Close.
  internal::GeneratorStep Take(const std::string& task_id, size_t k, int64_t timeout_ms);
  /// The consumer is gone: releases the items held and forgets the stream.
  void Drop(const std::string& task_id);
  /// Shutdown: every wait ends (with polyray::Error); items are released.
  void Close();
  /// Items held (arrived, not taken) for `task_id`; streams open. For tests.
  size_t Held(const std::string& task_id) const;
  size_t OpenCount() const;

 private:
  struct Stream {
    std::map<size_t, internal::RefPtr> items;
    size_t taken = 0;  // items below were handed to the consumer
    bool finished = false;
    bool failed = false;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::shared_ptr<Stream>> streams_;
  bool closed_ = false;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_GENERATOR_STREAMS_H_
