// C++ tasks and an actor for tests/api/test_cpp_cancel_parity.py (issue 17):
// a task that polls IsCanceled(), a parent that waits on such a child
// (recursive cancel at a C++ worker), a C++ owner that hands a running or a
// queued child's ref to its caller (a borrower's cancel forwarded through the
// C++ owner), GetCurrentActor() and the job's namespace inside a C++ worker.
#include <polyray/api.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

/// Writes `text` to `path` (the test waits for the file).
void Mark(const std::string& path, const std::string& text) {
  std::ofstream out(path + ".tmp");
  out << text;
  out.close();
  std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

/// Spins up to `ms`, polling IsCanceled(); marks `path` "cancelled" when it saw it.
int64_t Spin(std::string path, int64_t ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  Mark(path + ".started", "1");
  while (std::chrono::steady_clock::now() < end) {
    if (polyray::GetRuntimeContext().IsCanceled()) {
      Mark(path, "cancelled");
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Mark(path, "finished");
  return ms;
}

/// Submits Spin(path, ms) and waits for it (the parent of a recursive cancel).
int64_t Parent(std::string path, int64_t ms) {
  return *polyray::Get(polyray::Task(Spin).Remote(path, ms));
}

/// Submits Spin(path, ms) (with `cpus` CPUs: more than are free keeps it queued)
/// and returns its ref: the caller borrows it; this worker owns it.
polyray::ObjectRef<int64_t> Owner(std::string path, int64_t ms, double cpus) {
  return polyray::Task(Spin).SetResource("CPU", cpus).Remote(path, ms);
}

/// Whether IsCanceled() throws in a driver is checked by the unit test; here: false when not cancelled.
bool NotCancelled() { return !polyray::GetRuntimeContext().IsCanceled(); }

/// The namespace a C++ task sees, and whether GetActor(name) finds the job's actor there.
std::string NamespaceAndLookup(std::string name) {
  std::string ns = polyray::GetRuntimeContext().GetNamespace();
  try {
    polyray::GetActorXlang(name);
    return ns + "|found";
  } catch (const polyray::Error& e) {
    return ns + "|missing: " + e.what();
  }
}

class Selfie {
 public:
  static Selfie* Create() { return new Selfie(); }
  /// The id of GetCurrentActor()'s handle (the actor's own).
  std::string SelfId() { return polyray::GetRuntimeContext().GetCurrentActor<Selfie>().Id(); }
  /// Calls itself through GetCurrentActor() (max_concurrency 2: the call runs beside this one).
  int64_t CallSelf() {
    auto self = polyray::GetRuntimeContext().GetCurrentActor<Selfie>();
    return *polyray::Get(self.Task(&Selfie::Seven).Remote());
  }
  int64_t Seven() { return 7; }
  /// Whether IsCanceled() is false in an actor call nobody cancelled.
  bool NotCancelled() { return !polyray::GetRuntimeContext().IsCanceled(); }
};

std::string CurrentActorOutsideActor() {
  try {
    polyray::GetRuntimeContext().GetCurrentActor<Selfie>();
    return "no error";
  } catch (const polyray::Error& e) {
    return e.what();
  }
}

POLYRAY_REMOTE(Spin, Parent, Owner, NotCancelled, NamespaceAndLookup, CurrentActorOutsideActor, Selfie::Create,
               &Selfie::SelfId, &Selfie::CallSelf, &Selfie::Seven, &Selfie::NotCancelled);

/// An actor for concurrency groups: Block(ms) naps (in the "slow" group of 1),
/// Fast() answers at once (the default group, or "quick"); Most() is the most
/// Blocks inside at once.
class Grouped {
 public:
  static Grouped* Create() { return new Grouped(); }
  int64_t Block(int64_t ms) {
    int now = ++inside_;
    int most = most_.load();
    while (now > most && !most_.compare_exchange_weak(most, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    --inside_;
    return ms;
  }
  int64_t Fast() { return 1; }
  int64_t Most() { return most_.load(); }

 private:
  std::atomic<int> inside_{0};
  std::atomic<int> most_{0};
};

POLYRAY_REMOTE(Grouped::Create, &Grouped::Block, &Grouped::Fast, &Grouped::Most);

/// A C++ caller's concurrency groups (SetConcurrencyGroups / SetConcurrencyGroup): two
/// Block(ms) calls in "slow" (1 thread) while Fast() answers from the default group.
/// Returns {"fast_ms", "slow_ms", "most", "bad_size"}: how long Fast and both Blocks took,
/// the most Blocks at once, and whether a size of 0 was refused at the setter.
std::map<std::string, int64_t> GroupsFromCpp(int64_t ms) {
  using Clock = std::chrono::steady_clock;
  auto a = polyray::Actor(Grouped::Create).SetConcurrencyGroups({{"slow", 1}}).Remote();
  *polyray::Get(a.Task(&Grouped::Fast).Remote());
  auto t0 = Clock::now();
  auto s1 = a.Task(&Grouped::Block).SetConcurrencyGroup("slow").Remote(ms);
  auto s2 = a.Task(&Grouped::Block).SetConcurrencyGroup("slow").Remote(ms);
  *polyray::Get(a.Task(&Grouped::Fast).Remote());
  auto fast = Clock::now() - t0;
  *polyray::Get(s1);
  *polyray::Get(s2);
  auto slow = Clock::now() - t0;
  std::map<std::string, int64_t> out;
  out["fast_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(fast).count();
  out["slow_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(slow).count();
  out["most"] = *polyray::Get(a.Task(&Grouped::Most).Remote());
  out["bad_size"] = 0;
  try {
    polyray::Actor(Grouped::Create).SetConcurrencyGroups({{"none", 0}});
  } catch (const std::invalid_argument&) {
    out["bad_size"] = 1;
  }
  return out;
}

POLYRAY_REMOTE(GroupsFromCpp);

namespace {

/// Waits up to 20 s for `path` to exist.
bool WaitFor(const std::string& path) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < end) {
    if (std::ifstream(path).good()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

/// What Get of a cancelled ref threw: "<class>: <what>", or "returned".
std::string GetOutcome(const polyray::ObjectRef<int64_t>& ref) {
  try {
    polyray::Get(ref, 20'000);
    return "returned";
  } catch (const polyray::TaskCancelledError& e) {
    return std::string("TaskCancelledError: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
}

}  // namespace

/// polyray::Cancel from a C++ caller: {"running": Get of a running Spin it cancelled,
/// "queued": Get of a Spin queued for `queued_cpus` it cancelled, "actor_force": what a
/// forced cancel of an actor call threw}.
std::map<std::string, std::string> CancelFromCpp(std::string path, double queued_cpus) {
  std::map<std::string, std::string> out;
  auto running = polyray::Task(Spin).Remote(path, int64_t{60'000});
  if (!WaitFor(path + ".started")) {
    out["running"] = "never started";
    return out;
  }
  polyray::Cancel(running);
  out["running"] = GetOutcome(running);
  auto queued = polyray::Task(Spin).SetResource("CPU", queued_cpus).Remote(path + ".q", int64_t{10});
  // An actor call held for its argument (the queued task's value) is dropped; the call behind it goes.
  auto g = polyray::Actor(Grouped::Create).Remote();
  auto held = g.Task(&Grouped::Block).Remote(queued);
  auto behind = g.Task(&Grouped::Fast).Remote();
  polyray::Cancel(held);
  out["actor_held"] = GetOutcome(held);
  out["actor_behind"] = std::to_string(*polyray::Get(behind, 20'000));
  polyray::Cancel(queued);
  out["queued"] = GetOutcome(queued);
  auto a = polyray::Actor(Selfie::Create).Remote();
  auto call = a.Task(&Selfie::Seven).Remote();
  try {
    polyray::Cancel(call, /*force=*/true);
    out["actor_force"] = "no error";
  } catch (const std::invalid_argument& e) {
    out["actor_force"] = std::string("invalid_argument: ") + e.what();
  }
  out["actor_after"] = std::to_string(*polyray::Get(call, 20'000));
  // force: the worker running the Spin ends (it never gets to see IsCanceled()).
  auto forced = polyray::Task(Spin).Remote(path + ".f", int64_t{60'000});
  if (!WaitFor(path + ".f.started")) {
    out["forced"] = "never started";
    return out;
  }
  polyray::Cancel(forced, /*force=*/true);
  out["forced"] = GetOutcome(forced);
  return out;
}

POLYRAY_REMOTE(CancelFromCpp);

/// Cancels the first of `refs`, which this task borrows (the caller owns it): through its owner.
bool CancelBorrowed(std::vector<polyray::ObjectRef<int64_t>> refs) {
  polyray::Cancel(refs.at(0));
  return true;
}

POLYRAY_REMOTE(CancelBorrowed);

/// An actor whose Where() is registered in concurrency group "io"
/// (POLYRAY_REMOTE_IN_GROUP), and the actor functions __polyray_call__ / Call run with it
/// (issues 17 and 19).
class Declared {
 public:
  static Declared* Create() { return new Declared(); }
  /// The name of the thread the call ran on.
  std::string Where() {
    char name[32] = {0};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    return name;
  }
  std::string PlainWhere() { return Where(); }
  int64_t Total() const { return total_; }
  int64_t total_ = 0;
};

/// Run with a Declared actor: adds k to its total.
int64_t BumpDeclared(Declared& d, int64_t k) { return d.total_ += k; }
/// Not a function of Declared.
int64_t SelfieSeven(Selfie& s) { return s.Seven(); }

POLYRAY_REMOTE(Declared::Create, &Declared::PlainWhere, &Declared::Total, BumpDeclared, SelfieSeven);
POLYRAY_REMOTE_IN_GROUP("io", &Declared::Where);

/// A C++ caller: the declared group applies to its calls, handle.Call runs BumpDeclared.
std::map<std::string, std::string> DeclaredFromCpp() {
  auto a = polyray::Actor(Declared::Create).SetConcurrencyGroups({{"io", 1}}).Remote();
  std::map<std::string, std::string> out;
  out["where"] = *polyray::Get(a.Task(&Declared::Where).Remote());
  out["plain"] = *polyray::Get(a.Task(&Declared::PlainWhere).Remote());
  polyray::Get(a.Call(&BumpDeclared).Remote(4));
  out["total"] = std::to_string(*polyray::Get(a.Call(&BumpDeclared).Remote(3)));
  return out;
}

POLYRAY_REMOTE(DeclaredFromCpp);
