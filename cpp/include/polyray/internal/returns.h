// SetNumReturns / RemoteMulti support of the Python and Java callers
// (task_caller.h, actor_task_caller.h): several returns of one call.
//
// Invariants: a C++ callee returns one value, so more returns are refused at
// the call (std::invalid_argument), as a Python caller's num_returns on a C++
// function is; Remote() after SetNumReturns(n > 1) is refused too.
#ifndef POLYRAY_INTERNAL_RETURNS_H_
#define POLYRAY_INTERNAL_RETURNS_H_

#include <stdexcept>
#include <string>

#include "polyray/internal/call_options.h"
#include "polyray/internal/runtime.h"

namespace polyray {
namespace internal {

/// Several returns of one call of a Python or Java function or method (the
/// callee returns a tuple / an array of that many values; RemoteMulti gives
/// one ref each). A C++ callee returns one value: more is refused at the call.
template <typename Derived>
class ReturnsSetter : public virtual OptionsHolder {
 public:
  /// How many refs RemoteMulti returns (at least 1).
  Derived& SetNumReturns(int num_returns) {
    if (num_returns < 1) {
      throw std::invalid_argument("SetNumReturns: num_returns must be at least 1, got " +
                                  std::to_string(num_returns));
    }
    options_.num_returns = num_returns;
    return static_cast<Derived&>(*this);
  }
};

/// Throws std::invalid_argument when `options` ask a callee of `language`
/// for more returns than it gives, or Remote() was used after SetNumReturns(n > 1).
inline void CheckReturns(const CallOptions& options, Language language, const std::string& callee, bool multi) {
  if (options.num_returns > 1 && language == Language::kCpp) {
    throw std::invalid_argument("SetNumReturns: num_returns=" + std::to_string(options.num_returns) +
                                " is not supported for C++ callee " + callee +
                                " (a C++ function returns one value: return a std::tuple)");
  }
  if (!multi && options.num_returns != 1) {
    throw std::invalid_argument("Remote: SetNumReturns(" + std::to_string(options.num_returns) +
                                ") was called on the call of " + callee + "; use RemoteMulti");
  }
}

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_INTERNAL_RETURNS_H_
