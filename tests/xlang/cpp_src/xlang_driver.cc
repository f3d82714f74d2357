// A C++ driver program for the cross-language tests (test_cpp_driver.py).
//
//   xlang_driver <embedded|host:port> <python|java|cpp> <code search path entry>...
//
// Connects (an embedded head, or a running one), calls Python, Java or C++
// (by registered name) functions and actors, and prints "RESULT key=value"
// lines that the test checks; "DONE" at the end. Any unexpected exception
// ends it with exit code 1 and the message on stderr.
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr int64_t kTimeoutMs = 120000;  // every Get has a limit: a failure is never a hang

/// The value of `ref` (copied out of the shared_ptr Get returns).
template <typename T>
T G(const polyray::ObjectRef<T>& ref) {
  return *polyray::Get(ref, kTimeoutMs);
}

template <typename T>
void Out(const std::string& key, const T& value) {
  std::cout << "RESULT " << key << "=" << value << std::endl;
}

const char* LanguageName(polyray::Language language) {
  switch (language) {
    case polyray::Language::kPython:
      return "PYTHON";
    case polyray::Language::kJava:
      return "JAVA";
    case polyray::Language::kCpp:
      return "CPP";
  }
  return "?";
}

void ReportError(const std::string& prefix, const polyray::TaskException& e) {
  Out(prefix + "_language", LanguageName(e.language()));
  Out(prefix + "_type", e.type_name());
  Out(prefix + "_message", e.message());
  Out(prefix + "_is_cross_language",
      dynamic_cast<const polyray::CrossLanguageException*>(&e) != nullptr ? "true" : "false");
}

void CallPython() {
  using polyray::PyFunction;
  auto sq = polyray::Task(PyFunction<int64_t>{"cpp_callees", "square"}).Remote(int64_t{7});
  Out("square", G(sq));
  auto d = G(polyray::Task(PyFunction<std::map<std::string, int64_t>>{"cpp_callees", "describe"})
                            .Remote(std::vector<int64_t>{1, 2, 3}));
  Out("describe", std::to_string(d.at("n")) + "," + std::to_string(d.at("sum")));
  // A value put by C++ and read by Python.
  auto put = polyray::Put(std::string("from c++"));
  Out("put_get", G(put));
  auto echoed = polyray::Task(PyFunction<std::string>{"cpp_callees", "echo"}).Remote(put);
  Out("python_echo", G(echoed));

  polyray::ActorHandleXlang acc = polyray::Actor(polyray::PyActorClass{"cpp_callees", "Acc"}).Remote(int64_t{10});
  G(acc.Task(polyray::PyActorMethod<int64_t>{"add"}).Remote(int64_t{2}));
  Out("acc", G(acc.Task(polyray::PyActorMethod<int64_t>{"add"}).Remote(int64_t{3})));

  auto named = polyray::Actor(polyray::PyActorClass{"cpp_callees", "Acc"}).SetName("cpp-made-acc").Remote(int64_t{100});
  (void)named;
  auto found = polyray::GetActorXlang("cpp-made-acc");
  Out("named_acc", G(found.Task(polyray::PyActorMethod<int64_t>{"add"}).Remote(int64_t{1})));

  try {
    G(polyray::Task(PyFunction<int64_t>{"cpp_callees", "fail"}).Remote(std::string("py said no")));
    Out("py_error", "none");
  } catch (const polyray::TaskException& e) {
    ReportError("py_error", e);
  }
  std::vector<polyray::ObjectRef<int64_t>> refs;
  for (int64_t i = 0; i < 4; i++) refs.push_back(polyray::Task(PyFunction<int64_t>{"cpp_callees", "square"}).Remote(i));
  auto waited = polyray::Wait(refs, 4, 60000);
  Out("wait_ready", waited.ready.size());
  int64_t total = 0;
  for (const auto& r : refs) total += G(r);
  Out("squares_total", total);
}

void CallJava() {
  using polyray::JavaFunction;
  Out("java_add", G(polyray::Task(JavaFunction<int64_t>{"xlangtest.Calc", "add"})
                                    .Remote(int64_t{40}, int64_t{2})));
  Out("java_greet", G(polyray::Task(JavaFunction<std::string>{"xlangtest.Calc", "greet"})
                                      .Remote(std::string("c++"))));
  auto counter = polyray::Actor(polyray::JavaActorClass{"xlangtest.Counter"}).Remote(int64_t{10});
  G(counter.Task(polyray::JavaActorMethod<int64_t>{"increment"}).Remote(int64_t{5}));
  Out("java_counter", G(counter.Task(polyray::JavaActorMethod<int64_t>{"increment"}).Remote(int64_t{1})));
  try {
    G(polyray::Task(JavaFunction<int64_t>{"xlangtest.Calc", "fail"}).Remote(std::string("java said no")));
    Out("java_error", "none");
  } catch (const polyray::TaskException& e) {
    ReportError("java_error", e);
  }
}

void CallCpp() {
  Out("cpp_plus1", G(polyray::Task(polyray::CppFunction<int64_t>{"Plus1"}).Remote(int64_t{41})));
  auto c = polyray::Actor(polyray::CppActorClass{"Counter::Create", "Counter"}).Remote(int64_t{10});
  G(c.Task(polyray::CppActorMethod<int64_t>{"Counter::Add"}).Remote(int64_t{5}));
  Out("cpp_counter", G(c.Task(polyray::CppActorMethod<int64_t>{"Counter::Get"}).Remote()));
  try {
    G(polyray::Task(polyray::CppFunction<int64_t>{"ThrowInvalid"}).Remote(std::string("c++ said no")));
    Out("cpp_error", "none");
  } catch (const polyray::TaskException& e) {
    ReportError("cpp_error", e);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: xlang_driver <embedded|host:port> <python|java|cpp> <code search path>...\n";
    return 2;
  }
  std::string address = argv[1];
  std::string mode = argv[2];
  polyray::Config config;
  if (address != "embedded") config.address = address;
  for (int i = 3; i < argc; i++) config.code_search_path.push_back(argv[i]);
  config.ray_namespace = "cppdriver";
  try {
    polyray::Init(config);
    if (mode == "python") {
      CallPython();
    } else if (mode == "java") {
      CallJava();
    } else if (mode == "cpp") {
      CallCpp();
    } else {
      std::cerr << "unknown mode " << mode << "\n";
      polyray::Shutdown();
      return 2;
    }
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "xlang_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}
