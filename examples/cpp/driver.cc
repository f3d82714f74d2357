// A C++ driver: starts an embedded polyray node, calls Python functions and
// actors, and the C++ library example_functions.cc (which it links; Init()
// puts that library on the job's code search path so C++ workers load it).
//
//   ./driver                 embedded head node (stopped at the end)
//   ./driver HOST:PORT       the driver of a job on a running cluster
//
// Invariants: every remote result is checked; the exit code is 0 only when
// all of them are right.
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "example_functions.h"

int main(int argc, char** argv) {
  polyray::Config config;
  if (argc > 1) config.address = argv[1];
  polyray::InitInfo info = polyray::Init(config);
  // The head's dashboard (Init also prints it on stderr; empty when it serves none).
  std::cout << "dashboard: " << info.dashboard_url << std::endl;
  int failures = 0;
  auto check = [&failures](bool ok, const std::string& what) {
    std::cout << (ok ? "ok    " : "WRONG ") << what << std::endl;
    if (!ok) ++failures;
  };

  // Python: a function of the standard library, and a class as an actor.
  auto sum = polyray::Task(polyray::PyFunction<int64_t>{"operator", "add"}).Remote(40, 2);
  check(*polyray::Get(sum) == 42, "Python operator.add(40, 2) = 42");
  polyray::ActorHandleXlang tally =
      polyray::Actor(polyray::PyActorClass{"collections", "Counter"}).Remote();
  polyray::Get(tally.Task(polyray::PyActorMethod<std::nullptr_t>{"update"}).Remote("polyray"));
  auto total = tally.Task(polyray::PyActorMethod<int64_t>{"total"}).Remote();
  check(*polyray::Get(total) == 7, "Python collections.Counter actor counted 7 letters");

  // C++: functions of the linked library run in C++ worker processes.
  polyray::ObjectRef<int64_t> two = polyray::Task(Plus1).Remote(1);
  polyray::ObjectRef<int64_t> three = polyray::Task(Plus1).Remote(two);  // passed by reference
  check(*polyray::Get(three) == 3, "Plus1(Plus1(1)) = 3");
  auto squares = polyray::Get(polyray::Task(Squares).Remote(std::vector<double>{1, 2, 3}));
  check(*squares == std::vector<double>{1, 4, 9}, "Squares({1, 2, 3}) = {1, 4, 9}");

  // A C++ actor; a Python result passed straight to it.
  polyray::ActorHandle<Counter> counter = polyray::Actor(Counter::Create).Remote(100);
  counter.Task(&Counter::Add).Remote(sum);
  check(*polyray::Get(counter.Task(&Counter::Value).Remote()) == 142, "Counter(100).Add(42) = 142");

  // Errors come back as exceptions.
  try {
    polyray::Get(polyray::Task(polyray::PyFunction<double>{"operator", "truediv"}).Remote(1, 0));
    check(false, "1 / 0 in Python raised");
  } catch (const polyray::CrossLanguageException& e) {
    check(e.type_name() == "ZeroDivisionError", "1 / 0 in Python raised " + e.type_name());
  }

  polyray::Shutdown();
  std::cout << (failures == 0 ? "all good" : "FAILED") << std::endl;
  return failures == 0 ? 0 : 1;
}
