// C++ callees of the cross-language tests (tests/xlang/test_python_to_cpp.py,
// test_java_to_cpp.py): one function per case of the XLANG type mapping, the
// error cases (exceptions, crashes), an actor (Counter), an actor whose factory
// throws (BadActor), and tasks that call Python and other actors from inside a
// C++ worker. Built by the tests with `polyray cpp-flags` into a shared library.
#include <polyray/api.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {
constexpr int64_t kTimeoutMs = 120000;  // every Get inside a task has a limit too
}  // namespace

// ---- scalars ----------------------------------------------------------------

int64_t Plus1(int64_t x) { return x + 1; }
int64_t Add(int64_t a, int64_t b) { return a + b; }
int64_t EchoInt(int64_t x) { return x; }
uint64_t EchoUint64(uint64_t x) { return x; }
int32_t EchoInt32(int32_t x) { return x; }
int8_t EchoInt8(int8_t x) { return x; }
double EchoDouble(double x) { return x; }
float EchoFloat(float x) { return x; }
bool Negate(bool b) { return !b; }
std::nullptr_t ReturnNil() { return nullptr; }
void DoNothing() {}

// ---- strings and bytes -------------------------------------------------------

std::string EchoString(std::string s) { return s; }
int64_t Utf8Length(const std::string& s) { return static_cast<int64_t>(s.size()); }
std::string Greet(const std::string& name) { return "hello " + name; }
std::vector<uint8_t> ReverseBytes(std::vector<uint8_t> data) {
  return std::vector<uint8_t>(data.rbegin(), data.rend());
}

// ---- containers --------------------------------------------------------------

std::vector<int64_t> EchoList(std::vector<int64_t> v) { return v; }
double SumList(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}
std::map<std::string, int64_t> EchoMap(std::map<std::string, int64_t> m) { return m; }
std::map<std::string, int64_t> CountChars(const std::string& s) {
  std::map<std::string, int64_t> out;
  for (char c : s) out[std::string(1, c)]++;
  return out;
}
using Nested = std::map<std::string, std::vector<std::vector<int64_t>>>;
Nested EchoNested(Nested n) { return n; }
int64_t NestedTotal(const Nested& n) {
  int64_t total = 0;
  for (const auto& [k, rows] : n)
    for (const auto& row : rows)
      for (int64_t x : row) total += x;
  return total;
}
std::tuple<int64_t, std::string, double> EchoTuple(std::tuple<int64_t, std::string, double> t) { return t; }
std::tuple<std::string, int64_t> SwapPair(std::tuple<int64_t, std::string> t) {
  return {std::get<1>(t), std::get<0>(t)};
}
std::string DescribeOptional(std::optional<int64_t> v) {
  return v ? "some " + std::to_string(*v) : std::string("none");
}

std::unordered_map<int64_t, std::string> IntKeys(std::unordered_map<int64_t, std::string> m) {
  for (auto& [k, v] : m) v += "!";
  return m;
}
std::array<int64_t, 3> Reverse3(std::array<int64_t, 3> a) { return {a[2], a[1], a[0]}; }
std::pair<std::string, bool> PairOf(std::string s, bool b) { return {s, b}; }
std::vector<bool> Flags(std::vector<bool> v) {
  for (size_t i = 0; i < v.size(); i++) v[i] = !v[i];
  return v;
}
std::vector<std::optional<int64_t>> Holes(std::vector<std::optional<int64_t>> v) { return v; }
// Any XLANG value, decoded dynamically and encoded back (canonical msgpack).
polyray::XValue EchoAny(polyray::XValue v) { return v; }

// ---- ndarrays ---------------------------------------------------------------

double SumVector(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
std::vector<double> ScaleVector(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}
int64_t SumInt32Vector(const std::vector<int32_t>& v) {
  int64_t s = 0;
  for (int32_t x : v) s += x;
  return s;
}
polyray::NdArray<double> ScaleArray(polyray::NdArray<double> a, double factor) {
  for (double& x : a.data()) x *= factor;
  return a;
}
// (sum, zero copy?, element count): is_view() tells whether the span points
// into the received memory (the shared store for a large argument).
std::tuple<double, bool, int64_t> SpanSum(polyray::NdSpan<double> span) {
  double s = 0;
  for (double x : span) s += x;
  return {s, span.is_view(), static_cast<int64_t>(span.size())};
}
std::vector<int64_t> ArrayShape(polyray::NdSpan<int64_t> span) {
  std::vector<int64_t> out;
  for (uint64_t d : span.shape()) out.push_back(static_cast<int64_t>(d));
  return out;
}
std::vector<float> HalfFloats(std::vector<float> v) {
  for (float& x : v) x /= 2;
  return v;
}
polyray::NdArray<int32_t> Int32Grid(int64_t rows, int64_t cols) {
  std::vector<int32_t> data(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<int32_t>(i);
  return polyray::NdArray<int32_t>({static_cast<uint64_t>(rows), static_cast<uint64_t>(cols)}, std::move(data));
}
std::vector<double> MakeLargeVector(int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) out[static_cast<size_t>(i)] = static_cast<double>(i);
  return out;
}

// ---- structs (XLANG arrays of the fields, in order) -----------------------

struct Point {
  int64_t x = 0;
  double y = 0;
  std::string label;
};
POLYRAY_SERIALIZABLE(Point, x, y, label);

Point MovePoint(Point p, int64_t dx) {
  p.x += dx;
  p.label += "'";
  return p;
}

// ---- errors -----------------------------------------------------------------

int64_t ThrowInvalid(const std::string& message) { throw std::invalid_argument(message); }
int64_t ThrowRuntime(const std::string& message) { throw std::runtime_error(message); }

struct CustomError : std::exception {
  const char* what() const noexcept override { return "a custom error"; }
};
int64_t ThrowCustom() { throw CustomError(); }

int64_t Segfault() {
  std::raise(SIGSEGV);
  return 0;
}

// Crashes the first time (creating `marker`), succeeds when retried.
std::string CrashOnce(const std::string& marker) {
  if (access(marker.c_str(), F_OK) != 0) {
    std::ofstream(marker) << getpid();
    std::raise(SIGSEGV);
  }
  return "recovered";
}

int64_t Pid() { return static_cast<int64_t>(getpid()); }

// ---- references and handles ---------------------------------------------------

// The references stay references (they are borrowed by this task).
int64_t CountRefs(std::vector<polyray::ObjectRef<int64_t>> refs) { return static_cast<int64_t>(refs.size()); }
// Resolves nested references inside the worker.
int64_t SumRefs(std::vector<polyray::ObjectRef<int64_t>> refs) {
  int64_t s = 0;
  for (const auto& r : refs) s += *polyray::Get(r, kTimeoutMs);
  return s;
}
std::vector<polyray::ObjectRef<int64_t>> EchoRefs(std::vector<polyray::ObjectRef<int64_t>> refs) { return refs; }
polyray::ObjectRef<int64_t> PutValue(int64_t v) { return polyray::Put(v); }

// ---- actors -----------------------------------------------------------------

class Counter {
 public:
  explicit Counter(int64_t start) : value_(start) {}
  static Counter* Create(int64_t start) { return new Counter(start); }
  int64_t Add(int64_t n) {
    value_ += n;
    return value_;
  }
  int64_t Get() { return value_; }
  int64_t Pid() { return static_cast<int64_t>(getpid()); }
  int64_t Fail(const std::string& why) { throw std::logic_error(why); }

 private:
  int64_t value_;
};

class BadActor {
 public:
  static BadActor* Create(const std::string& why) { throw std::runtime_error("factory failed: " + why); }
  int64_t Get() { return 0; }
};

// Calls a C++ actor through a handle passed in a value.
int64_t AddThroughHandle(polyray::ActorHandle<Counter> counter, int64_t n) {
  return *polyray::Get(counter.Task(&Counter::Add).Remote(n), kTimeoutMs);
}
polyray::ActorHandle<Counter> MakeCounter(int64_t start) {
  return polyray::Actor(Counter::Create).Remote(start);
}

// ---- C++ -> Python inside a C++ worker (tests/xlang/py_src/cpp_callees.py) -------

int64_t SquareInPython(int64_t x) {
  return *polyray::Get(polyray::Task(polyray::PyFunction<int64_t>{"cpp_callees", "square"}).Remote(x), kTimeoutMs);
}
int64_t PythonFails(const std::string& message) {
  return *polyray::Get(polyray::Task(polyray::PyFunction<int64_t>{"cpp_callees", "fail"}).Remote(message), kTimeoutMs);
}
// Calls a Python actor's method through a handle passed in a value.
int64_t AddToPythonActor(polyray::ActorHandleXlang acc, int64_t n) {
  return *polyray::Get(acc.Task(polyray::PyActorMethod<int64_t>{"add"}).Remote(n), kTimeoutMs);
}

POLYRAY_REMOTE(Plus1, Add, EchoInt, EchoUint64, EchoInt32, EchoInt8, EchoDouble, EchoFloat, Negate, ReturnNil,
               DoNothing);
POLYRAY_REMOTE(EchoString, Utf8Length, Greet, ReverseBytes);
POLYRAY_REMOTE(EchoList, SumList, Words, EchoMap, CountChars, EchoNested, NestedTotal, EchoTuple, SwapPair,
               DescribeOptional, IntKeys, Reverse3, PairOf, Flags, Holes, EchoAny);
POLYRAY_REMOTE(SumVector, ScaleVector, SumInt32Vector, ScaleArray, SpanSum, ArrayShape, HalfFloats, Int32Grid,
               MakeLargeVector);
POLYRAY_REMOTE(MovePoint);
POLYRAY_REMOTE(ThrowInvalid, ThrowRuntime, ThrowCustom, Segfault, CrashOnce, Pid);
POLYRAY_REMOTE(CountRefs, SumRefs, EchoRefs, PutValue);
POLYRAY_REMOTE(Counter::Create, &Counter::Add, &Counter::Get, &Counter::Pid, &Counter::Fail);
POLYRAY_REMOTE(BadActor::Create, &BadActor::Get);
POLYRAY_REMOTE(AddThroughHandle, MakeCounter);
POLYRAY_REMOTE(SquareInPython, PythonFails, AddToPythonActor);
