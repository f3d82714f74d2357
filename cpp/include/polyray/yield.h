// polyray::Yield<T>: how a C++ remote function or actor method produces the
// items of a generator task (Ray's generator tasks, num_returns="streaming").
// A generator takes `polyray::Yield<T>&` as its first parameter and calls it
// once per item; each item is encoded and sent to the caller at once, so a
// Python or C++ caller reads it while the function still runs:
//
//   void CountUp(polyray::Yield<int64_t>& yield, int64_t n) {
//     for (int64_t i = 0; i < n; ++i) yield(i);
//   }
//   POLYRAY_REMOTE(CountUp);
//   // C++:    for (auto ref : polyray::Task(CountUp).Remote(3)) ...
//   // Python: for ref in polyray.cpp_function("CountUp").options(num_returns="streaming").remote(3): ...
//
// Invariants: items reach the caller in the order yielded, before the task's
// end (whose value is the item count); an exception the function throws after
// some items ends the stream with that error at its place; a Yield lives only
// for its call (it is passed by reference and must not be kept).
#ifndef POLYRAY_YIELD_H_
#define POLYRAY_YIELD_H_

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "polyray/codec.h"
#include "polyray/internal/runtime.h"

namespace polyray {

template <typename T>
class Yield {
 public:
  using value_type = T;

  /// Built by the runtime for one call: `sink` sends one encoded item,
  /// `name` names the generator in errors.
  Yield(internal::ItemSink sink, std::string name) : sink_(std::move(sink)), name_(std::move(name)) {}
  Yield(const Yield&) = delete;
  Yield& operator=(const Yield&) = delete;

  /// Sends `item` to the caller now (encoded as the result of a call would
  /// be). Throws polyray::TypeError for a value with no cross-language form
  /// and polyray::Error when it cannot be sent (the store is full, ...).
  void operator()(const T& item) {
    internal::Encoded encoded = internal::Encode<T>(item, "generator item " + std::to_string(count_) + " of " + name_);
    sink_(std::move(encoded));
    ++count_;
  }

  /// How many items were sent so far.
  size_t Count() const { return count_; }

 private:
  internal::ItemSink sink_;
  std::string name_;
  size_t count_ = 0;
};

namespace internal {
/// Whether P (a declared parameter type) is polyray::Yield<T>&.
template <typename P>
struct IsYieldParam : std::false_type {};
template <typename T>
struct IsYieldParam<Yield<T>&> : std::true_type {
  using Item = T;
};
}  // namespace internal

}  // namespace polyray

#endif  // POLYRAY_YIELD_H_
