// The remote functions and the actor of the example library
// (libexample_functions.so), shared by the library and the driver that
// links it.
//
// Invariants: declarations only; the definitions and POLYRAY_REMOTE are in
// example_functions.cc.
#ifndef POLYRAY_EXAMPLES_CPP_EXAMPLE_FUNCTIONS_H_
#define POLYRAY_EXAMPLES_CPP_EXAMPLE_FUNCTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

/// x + 1.
int64_t Plus1(int64_t x);

/// The squares of xs, computed on a C++ worker.
std::vector<double> Squares(std::vector<double> xs);

/// A counter actor: state lives in one C++ worker process.
class Counter {
 public:
  explicit Counter(int64_t start) : value_(start) {}
  /// The factory callers use: Actor(Counter::Create).Remote(start).
  static Counter* Create(int64_t start);
  /// Adds n; returns the new value.
  int64_t Add(int64_t n);
  /// The current value.
  int64_t Value() const;

 private:
  int64_t value_;
};

#endif  // POLYRAY_EXAMPLES_CPP_EXAMPLE_FUNCTIONS_H_
