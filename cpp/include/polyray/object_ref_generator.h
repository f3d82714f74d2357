// ObjectRefGenerator<T>: the items of a generator task (Ray's
// num_returns="streaming"), as the task yields them, to a C++ caller.
//
//   polyray::ObjectRefGenerator<int64_t> gen =
//       polyray::Task(polyray::PyFunction<int64_t>{"mod", "count"}).RemoteGenerator(3);
//   for (polyray::ObjectRef<int64_t> ref : gen) use(*polyray::Get(ref));
//
// Invariants:
//  - Items arrive in order, each as a ref owned by this process, before the
//    task ends; Next() hands out item k once, in order, and returns an empty
//    optional after the last one.
//  - An error raised by the generator (or its worker's death) comes at its
//    place: Next() returns a ref whose Get() throws it, then the stream ends.
//  - Completed() is the ref of the stream's end: ready once the generator
//    finished, its value the item count (or the error).
//  - A generator is move-only; destroying it releases the items it has not
//    handed out and those still to arrive (they are freed, never leaked).
#ifndef POLYRAY_OBJECT_REF_GENERATOR_H_
#define POLYRAY_OBJECT_REF_GENERATOR_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"
#include "polyray/object_ref.h"

namespace polyray {

template <typename T>
class ObjectRefGenerator {
 public:
  /// An empty generator (no task): Next() returns an empty optional.
  ObjectRefGenerator() = default;
  /// Adopts the stream of the generator task whose end object is `end`.
  explicit ObjectRefGenerator(internal::RefPtr end) : end_(std::move(end)) {}
  ObjectRefGenerator(const ObjectRefGenerator&) = delete;
  ObjectRefGenerator& operator=(const ObjectRefGenerator&) = delete;
  ObjectRefGenerator(ObjectRefGenerator&& o) noexcept { *this = std::move(o); }
  ObjectRefGenerator& operator=(ObjectRefGenerator&& o) noexcept {
    if (this != &o) {
      Release();
      end_ = std::move(o.end_);
      next_ = o.next_;
      finished_ = o.finished_;
      o.end_ = nullptr;
      o.finished_ = true;
    }
    return *this;
  }
  ~ObjectRefGenerator() { Release(); }

  /// The next item's ref, waiting until the task yields it; an empty optional
  /// once the stream ended. An error of the generator comes as a ref whose
  /// Get() throws it (the stream ends after it). `timeout_ms` bounds the wait
  /// (< 0: until the item or the end, which a worker's death brings too);
  /// throws GetTimeoutError when it passes (the item is still to come).
  std::optional<ObjectRef<T>> Next(int64_t timeout_ms = -1) {
    if (finished_ || !end_) return std::nullopt;
    internal::GeneratorStep step = internal::CurrentRuntime().NextGeneratorItem(end_, next_, timeout_ms);
    switch (step.state) {
      case internal::GeneratorStep::State::kItem:
        ++next_;
        return ObjectRef<T>(std::move(step.item));
      case internal::GeneratorStep::State::kFailed:
        finished_ = true;
        return ObjectRef<T>(end_);  // its Get() throws the generator's error, at its place
      default:
        finished_ = true;
        return std::nullopt;
    }
  }

  /// The ref of the stream's end: ready once the generator finished; its
  /// value is the number of items (Get throws the generator's error).
  ObjectRef<int64_t> Completed() const { return ObjectRef<int64_t>(end_); }

  /// How many items Next() has handed out.
  size_t Taken() const { return next_; }

  /// An input iterator over the items (each step calls Next()).
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = ObjectRef<T>;
    using difference_type = std::ptrdiff_t;
    using pointer = const ObjectRef<T>*;
    using reference = const ObjectRef<T>&;

    iterator() = default;
    explicit iterator(ObjectRefGenerator* gen) : gen_(gen) { Advance(); }
    reference operator*() const { return *current_; }
    pointer operator->() const { return &*current_; }
    iterator& operator++() {
      Advance();
      return *this;
    }
    bool operator==(const iterator& o) const { return Done() == o.Done(); }
    bool operator!=(const iterator& o) const { return !(*this == o); }

   private:
    void Advance() {
      current_ = gen_ ? gen_->Next() : std::nullopt;
      if (!current_) gen_ = nullptr;
    }
    bool Done() const { return gen_ == nullptr; }
    ObjectRefGenerator* gen_ = nullptr;
    std::optional<ObjectRef<T>> current_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  void Release() noexcept {
    if (!end_) return;
    try {
      if (internal::HasRuntime()) internal::CurrentRuntime().DropGenerator(end_);
    } catch (...) {  // a destructor never throws; the runtime is going away
    }
    end_ = nullptr;
  }

  internal::RefPtr end_;
  size_t next_ = 0;
  bool finished_ = false;
};

namespace internal {
/// Submits a streaming generator task (CallOptions::generator) and adopts its stream.
template <typename T>
ObjectRefGenerator<T> SubmitGeneratorTask(const FunctionDescriptor& function, std::vector<TaskArg> args,
                                          CallOptions options) {
  options.generator = 2;
  std::vector<RefPtr> refs = CurrentRuntime().SubmitTask(function, std::move(args), options);
  if (refs.size() != 1) throw Error("polyray: a generator task submission returned no end ObjectRef");
  return ObjectRefGenerator<T>(std::move(refs[0]));
}

/// Submits a streaming generator call of an actor method and adopts its stream.
template <typename T>
ObjectRefGenerator<T> SubmitGeneratorCall(const ActorPtr& actor, const FunctionDescriptor& method,
                                          std::vector<TaskArg> args, CallOptions options) {
  if (!actor) throw Error("polyray: cannot call " + method.first + " on an empty actor handle");
  options.generator = 2;
  std::vector<RefPtr> refs = CurrentRuntime().SubmitActorTask(actor, method, std::move(args), options);
  if (refs.size() != 1) throw Error("polyray: a generator call submission returned no end ObjectRef");
  return ObjectRefGenerator<T>(std::move(refs[0]));
}
}  // namespace internal

}  // namespace polyray

#endif  // POLYRAY_OBJECT_REF_GENERATOR_H_
