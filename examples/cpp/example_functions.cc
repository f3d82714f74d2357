// A library of C++ remote functions and an actor. polyray_cpp_worker loads
// it from the job's code search path; the driver links it to call the
// functions by pointer (Task(Plus1)). Python calls the same functions with
// polyray.cpp_function("Plus1") / polyray.cpp_actor_class("Counter::Create", "Counter").
//
// Invariants: each callable is registered exactly once, here.
#include "example_functions.h"

#include <polyray/api.h>

int64_t Plus1(int64_t x) { return x + 1; }

std::vector<double> Squares(std::vector<double> xs) {
  for (double& x : xs) x *= x;
  return xs;
}

Counter* Counter::Create(int64_t start) { return new Counter(start); }

int64_t Counter::Add(int64_t n) { return value_ += n; }

int64_t Counter::Value() const { return value_; }

POLYRAY_REMOTE(Plus1, Squares, Counter::Create, &Counter::Add, &Counter::Value);
