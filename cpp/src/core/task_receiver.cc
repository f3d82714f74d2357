// TaskReceiver of task_receiver.h.
//
// Invariants: a task leaves the queue only under mu_, in arrival order; an
// actor's extra threads are started once, by the thread that ran its
// creation task, before the creation's result leaves; work_ mirrors
// `stopped_ || !queue_.empty()` after every change of either (under mu_), so
// a task thread spinning on it (outside mu_) sees a task or Stop as soon as
// one waiting on cv_ would; the spin only delays the wait, whose predicate
// decides, so a spinner ends on Stop as a waiter does (at the latest after
// spin_).
#include "core/task_receiver.h"

#include "core/task_events.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <map>
#include <string>

#include "core/actor_handles.h"
#include "core/borrow_tracker.h"
#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/object_getter.h"
#include "core/owned_objects.h"
#include "core/spin.h"
#include "core/submit_policy.h"
#include "core/task_context.h"
#include "polyray/codec.h"
#include "polyray/exceptions.h"
#include "polyray/internal/registry.h"
#include "polyray/protocol/gcs.grpc.pb.h"

namespace polyray::core {
namespace {

/// A task failure found before or after the call (not user code raising).
struct TaskFailure {
  rpc::ErrorRecord record;
};

std::string TaskName(const rpc::TaskSpec& spec) {
  if (!spec.name().empty()) return spec.name();
  return spec.function().cpp().function_name();
}

/// Cuts the last "." or "::" component off `name` (false: there is none).
bool CutLast(std::string& name, std::string* last) {
  size_t dot = name.rfind('.');
  size_t colons = name.rfind("::");
  size_t at = std::string::npos;
  size_t width = 0;
  if (dot != std::string::npos) at = dot, width = 1;
  if (colons != std::string::npos && (at == std::string::npos || colons + 1 > at)) at = colons, width = 2;
  if (at == std::string::npos) return false;
  if (last) *last = name.substr(at + width);
  name.resize(at);
  return true;
}

/// The line a worker writes on stdout when what it runs changes; the raylet
/// labels the lines after it with the name and does not forward it (as the
/// Python and Java workers do).
constexpr const char* kOutputNameMarker = ":polyray_name:";

/// The name shown before a task's output: the function, or the actor's class.
std::string OutputName(const rpc::TaskSpec& spec) {
  std::string name = TaskName(spec);
  bool actor = spec.type() == rpc::ACTOR_TASK || spec.type() == rpc::ACTOR_CREATION_TASK;
  if (actor) CutLast(name, nullptr);
  std::string last;
  return CutLast(name, &last) ? last : name;
}

void AnnounceOutputName(const rpc::TaskSpec& spec) {
  static std::mutex mu;
  static std::string announced;
  std::string name = OutputName(spec);
  std::lock_guard<std::mutex> lock(mu);
  if (name == announced) return;
  announced = name;
  std::fprintf(stdout, "%s%s\n", kOutputNameMarker, name.c_str());
  std::fflush(stdout);
}

rpc::ErrorRecord RuntimeError(const std::string& type_name, const std::string& message) {
  rpc::ErrorRecord r = SystemError(rpc::RUNTIME_ERROR, message);
  r.set_type_name(type_name);
  return r;
}

/// An argument that is an error value: the task fails with the same kind and
/// type, the argument's record as the cause (as the other workers do).
TaskFailure ArgumentError(const rpc::ErrorRecord& cause, const std::string& what) {
  rpc::ErrorRecord r;
  r.set_kind(cause.kind());
  r.set_type_name(cause.type_name());
  r.set_message(what + " is an error: " + cause.message());
  r.set_language(rpc::CPP);
  *r.mutable_cause() = cause;
  return TaskFailure{r};
}

/// The built-in method a C++ actor call names ("Class::__polyray_ready__"):
/// "ready", "terminate", or "" for a user method (as the Java and Python workers).
std::string BuiltinMethod(const rpc::TaskSpec& spec) {
  if (spec.type() != rpc::ACTOR_TASK) return "";
  std::string name = spec.function().cpp().function_name();
  size_t colons = name.rfind("::");
  std::string method = colons == std::string::npos ? name : name.substr(colons + 2);
  if (method == "__polyray_ready__" || method == "__ray_ready__") return "ready";
  if (method == "__polyray_terminate__" || method == "__ray_terminate__") return "terminate";
  if (method == "__polyray_call__" || method == "__ray_call__") return "call";
  return "";
}

}  // namespace

rpc::TaskResult ErrorResult(const rpc::TaskSpec& spec, const std::string& record_bytes, bool application_error) {
  rpc::TaskResult result;
  result.set_task_id(spec.task_id());
  result.set_is_application_error(application_error);
  int n = std::max(spec.num_returns(), spec.type() == rpc::ACTOR_CREATION_TASK ? 1 : 0);
  for (int i = 1; i <= n; ++i) {
    rpc::ReturnObject* r = result.add_returns();
    r->set_object_id(ReturnId(spec.task_id(), i));
    r->mutable_value()->set_format(rpc::FORMAT_ERROR);
    r->mutable_value()->set_body(record_bytes);
    r->set_size(record_bytes.size());
  }
  return result;
}

TaskReceiver::TaskReceiver(CoreWorker& w, internal::TaskExecutor executor)
    : w_(w), executor_(std::move(executor)), spin_(SpinTime()) {}

void TaskReceiver::Enqueue(std::shared_ptr<rpc::TaskSpec> spec, ReplyFn reply) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (spec->type() == rpc::ACTOR_TASK && !groups_.empty()) {
      // The call's group, else the one its method was registered in (POLYRAY_REMOTE_IN_GROUP).
      auto declared = spec->concurrency_group().empty() ? method_groups_.find(spec->function().cpp().function_name())
                                                         : method_groups_.end();
      const std::string& group = declared != method_groups_.end() ? declared->second : spec->concurrency_group();
      auto g = groups_.find(group);
      if (g != groups_.end()) {
        g->second->queue.push_back(Item{std::move(spec), std::move(reply)});
        g->second->cv.notify_one();
        return;
      }
      // Not a group of this actor: the default queue's thread answers with the error.
    }
    queue_.push_back(Item{std::move(spec), std::move(reply)});
    UpdateWorkLocked();
  }
  cv_.notify_one();
}

bool TaskReceiver::Cancel(const std::string& task_id, bool force) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto running = running_.find(task_id);
    if (running == running_.end()) {
      // Queued, or not here yet (a cancel may overtake its task): it never runs.
      cancelled_.insert(task_id);
      return true;
    }
    MarkCancelRequested(task_id);
    if (!force || running->second != rpc::NORMAL_TASK) return true;
  }
  // Ray's force: the worker process ends; the owner sees its stream break.
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(1);
}

void TaskReceiver::Stop(int exit_code) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    exit_code_ = exit_code;
    UpdateWorkLocked();
    for (auto& [name, g] : groups_) g->cv.notify_all();
  }
  cv_.notify_all();
}

int TaskReceiver::concurrency() const {
  std::lock_guard<std::mutex> lock(mu_);
  return concurrency_;
}

TaskReceiver::~TaskReceiver() {
  // RunLoop joins the threads; a receiver destroyed without it stops them here.
  Stop(0);
  if (!JoinActorThreads()) {
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(exit_code_);
  }
}

int TaskReceiver::RunLoop() {
  Serve();
  if (!JoinActorThreads()) {
    // An actor thread is stuck in user code: end the process rather than
    // tear the runtime down under it.
    std::fprintf(stderr, "polyray C++ worker: an actor call still runs %lld ms after the worker was stopped; exiting\n",
                 static_cast<long long>(kStopGraceMs));
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(exit_code_);
  }
  std::lock_guard<std::mutex> lock(mu_);
  return exit_code_;
}

void TaskReceiver::StartGroups(const rpc::TaskSpec& creation) {
  if (creation.concurrency_groups().empty()) return;
  std::map<std::string, int> sorted(creation.concurrency_groups().begin(), creation.concurrency_groups().end());
  std::vector<std::pair<Group*, int>> started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!groups_.empty()) return;
    for (const auto& [name, n] : sorted) {
      auto g = std::make_unique<Group>();
      started.emplace_back(g.get(), std::max(1, n));
      serving_extra_ += std::max(1, n);
      groups_[name] = std::move(g);
    }
  }
  int i = 0;
  for (auto& [g, n] : started) {
    for (int k = 0; k < n; ++k, ++i) {
      actor_threads_.emplace_back([this, g = g, i] {
        std::string name = "polyray-group-" + std::to_string(i + 1);
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        ServeGroup(*g);
        std::lock_guard<std::mutex> lock(mu_);
        serving_extra_--;
        extra_done_cv_.notify_all();
      });
    }
  }
}

void TaskReceiver::ServeGroup(Group& g) {
  while (true) {
    Item item;
    bool cancelled = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      g.cv.wait(lock, [this, &g] { return stopped_ || !g.queue.empty(); });
      if (stopped_) return;
      item = std::move(g.queue.front());
      g.queue.pop_front();
      cancelled = cancelled_.erase(item.spec->task_id()) > 0;
      if (!cancelled) running_[item.spec->task_id()] = item.spec->type();
    }
    RunItem(item, cancelled);
  }
}

void TaskReceiver::StartActorThreads(int n) {
  if (n <= 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (concurrency_ > 1) return;
    concurrency_ = n + 1;
    serving_extra_ += n;
  }
  actor_threads_.reserve(n);
  for (int i = 0; i < n; ++i) {
    actor_threads_.emplace_back([this, i] {
      std::string name = "polyray-actor-" + std::to_string(i + 1);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      Serve();
      std::lock_guard<std::mutex> lock(mu_);
      serving_extra_--;
      extra_done_cv_.notify_all();
    });
  }
}

bool TaskReceiver::JoinActorThreads() {
  if (actor_threads_.empty()) return true;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!extra_done_cv_.wait_for(lock, std::chrono::milliseconds(kStopGraceMs),
                                 [this] { return serving_extra_ == 0; })) {
      return false;
    }
  }
  for (std::thread& t : actor_threads_) t.join();
  actor_threads_.clear();
  return true;
}

void TaskReceiver::Serve() {
  while (true) {
    Item item;
    bool cancelled = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Poll for the next task before sleeping (spin.h): in a loop of sync
      // calls it comes meanwhile, and nobody has to wake this thread. One
      // thread spins at a time (a threaded actor's others just wait): one
      // is enough to catch the next task.
      const auto wait_start = std::chrono::steady_clock::now();
      const bool waited = queue_.empty();
      if (!stopped_ && queue_.empty() && spin_.count() > 0 && !spinning_.exchange(true)) {
        lock.unlock();
        SpinWhilePays(spin_, [this] { return work_.load(std::memory_order_acquire); });
        spinning_.store(false);
        lock.lock();
      }
      cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
      // The wait's length feeds the spin policy (spin.h): spin only while waits are short.
      if (waited && spin_.count() > 0) SpinGate::Process().Record(std::chrono::steady_clock::now() - wait_start);
      if (stopped_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      UpdateWorkLocked();
      cancelled = cancelled_.erase(item.spec->task_id()) > 0;
      if (!cancelled) running_[item.spec->task_id()] = item.spec->type();
    }
    RunItem(item, cancelled);
  }
}

void TaskReceiver::RunItem(Item& item, bool cancelled) {
  {
    rpc::TaskResult result;
    if (cancelled) {
      result = ErrorResult(*item.spec,
                           internal::SerializeDeterministic(SystemError(
                               rpc::TASK_CANCELLED, "task " + TaskName(*item.spec) + " was cancelled before it ran")),
                           false);
    } else {
      TaskEvents* ev = w_.task_events();
      TaskEvents::Token running = ev ? ev->Running(*item.spec) : 0;
      AnnounceOutputName(*item.spec);
      result = Execute(item.spec, item.reply);
      bool cancel_requested;
      {
        std::lock_guard<std::mutex> lock(mu_);
        running_.erase(item.spec->task_id());
        cancel_requested = ClearCancelRequested(item.spec->task_id());
      }
      if (cancel_requested && item.spec->type() == rpc::NORMAL_TASK) {
        // Cancelled while it ran: its caller gets TaskCancelledError (Ray's get() after cancel).
        result = ErrorResult(*item.spec,
                             internal::SerializeDeterministic(SystemError(
                                 rpc::TASK_CANCELLED, "task " + TaskName(*item.spec) + " was cancelled while it ran")),
                             false);
      }
      if (ev) ev->Ended(*item.spec, result, running);  // folded into RUNNING while not sent
    }
    // User output reaches the raylet (and the driver) by the time the caller
    // learns the task finished; borrows made while it ran reach their owners.
    std::fflush(stdout);
    std::fflush(stderr);
    if (w_.borrows().HasPending()) w_.borrows().Flush(30'000);
    const rpc::TaskSpec& spec = *item.spec;
    if (spec.type() == rpc::ACTOR_CREATION_TASK && result.actor_ready()) {
      // Before its first call can arrive: a threaded actor's threads, each concurrency group's.
      if (spec.max_concurrency() > 1) StartActorThreads(spec.max_concurrency() - 1);
      StartGroups(spec);
    }
    bool exiting = result.worker_exiting();
    item.reply(std::move(result));
    if (exiting) {
      // The actor is gone: let the reply leave, then end the process's loop.
      w_.scheduler().RunAfter(100, [this] { Stop(0); });
    }
  }
}

std::string TaskReceiver::AdoptMethodGroups(const rpc::TaskSpec& creation) {
  std::map<std::string, std::string> declared;
  try {
    declared = internal::Registry::Instance().MethodGroupsOf(creation.function().cpp().function_name());
  } catch (const std::exception&) {
    return "";  // an unknown factory: the creation reports it
  }
  for (const auto& [method, group] : declared) {
    if (creation.concurrency_groups().count(group) != 0) continue;
    std::map<std::string, int> sorted(creation.concurrency_groups().begin(), creation.concurrency_groups().end());
    std::string known;
    for (const auto& [name, n] : sorted) known += (known.empty() ? "" : ", ") + name;
    return "method " + method + " is registered in concurrency group '" + group +
           "' (POLYRAY_REMOTE_IN_GROUP), which actor " + TaskName(creation) + " was not created with (its groups: " +
           (known.empty() ? "none" : known) + "); declare it with SetConcurrencyGroups / concurrency_groups=";
  }
  std::lock_guard<std::mutex> lock(mu_);
  method_groups_.insert(declared.begin(), declared.end());
  return "";
}

rpc::TaskResult TaskReceiver::ActorExit(const rpc::TaskSpec& spec, const std::string& why) {
  // As the Python and Java workers: the GCS marks the actor dead without a
  // restart, the call gets ACTOR_DIED (killed), the worker exits after the reply.
  rpc::KillActorRequest req;
  req.set_actor_id(spec.actor_id());
  req.set_no_restart(true);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(std::chrono::seconds(10)));
  rpc::KillActorReply reply;
  grpc::Status st = rpc::GcsService::NewStub(w_.channels().Get(w_.options().gcs_address))->KillActor(&ctx, req, &reply);
  if (!st.ok()) {
    std::fprintf(stderr, "polyray: could not mark the actor dead in the GCS: %s\n", st.error_message().c_str());
  }
  rpc::ErrorRecord record = SystemError(rpc::ACTOR_DIED, "the actor exited by a user request: " + TaskName(spec) +
                                                             " called " + why + "; calls after it fail");
  record.set_reason(rpc::REASON_KILLED);
  rpc::TaskResult result = ErrorResult(spec, internal::SerializeDeterministic(record), false);
  result.set_worker_exiting(true);
  return result;
}

namespace {

// As Ray and the Python/Java workers: OMP_NUM_THREADS is the running task's
// (or actor's, set at its creation) CPUs as an int, at least 1, unless the
// worker's environment set it (the user's, or runtime_env env_vars).
const bool kOmpAuto = std::getenv("OMP_NUM_THREADS") == nullptr;

void SetOmpThreads(const rpc::TaskSpec& spec) {
  if (!kOmpAuto || spec.type() == rpc::ACTOR_TASK) return;  // normal tasks run one at a time
  auto it = spec.resources().find("CPU");
  int cpus = it == spec.resources().end() ? 0 : static_cast<int>(it->second);
  ::setenv("OMP_NUM_THREADS", std::to_string(std::max(1, cpus)).c_str(), 1);
}

}  // namespace

rpc::TaskResult TaskReceiver::Execute(const std::shared_ptr<rpc::TaskSpec>& spec_ptr, const ReplyFn& reply) {
  const rpc::TaskSpec& spec = *spec_ptr;
  SetOmpThreads(spec);
  if (spec.type() == rpc::ACTOR_TASK && !spec.concurrency_group().empty()) {
    std::string known;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (groups_.count(spec.concurrency_group()) == 0) {
        std::map<std::string, int> sorted;
        for (const auto& [name, g] : groups_) sorted[name] = 0;
        for (const auto& [name, n] : sorted) known += (known.empty() ? "" : ", ") + name;
        known = known.empty() ? "none" : known;
      }
    }
    if (!known.empty()) {
      return ErrorResult(spec, internal::SerializeDeterministic(RuntimeError(
                                   "std::invalid_argument", "concurrency group '" + spec.concurrency_group() +
                                                                "' is not declared by the actor of " + TaskName(spec) +
                                                                " (its groups: " + known + ")")),
                         false);
    }
  }
  if (spec.type() == rpc::ACTOR_CREATION_TASK) {
    std::string bad = AdoptMethodGroups(spec);
    if (!bad.empty()) {  // the actor is never created: its worker goes, as after a factory that throws
      rpc::TaskResult failed =
          ErrorResult(spec, internal::SerializeDeterministic(RuntimeError("std::invalid_argument", bad)), false);
      failed.set_worker_exiting(true);
      return failed;
    }
  }
  const std::string builtin = BuiltinMethod(spec);
  if (!builtin.empty() && builtin != "call") {
    if (spec.args_size() != 0 || spec.kwargs_size() != 0) {
      return ErrorResult(spec, internal::SerializeDeterministic(RuntimeError(
                                   "std::invalid_argument", TaskName(spec) + " takes no arguments")), false);
    }
    if (builtin == "terminate") return ActorExit(spec, "__polyray_terminate__");
    internal::TaskOutcome ready;
    ready.returns.push_back(internal::Encode(true));
    for (int i = 1; i < spec.num_returns(); ++i) ready.returns.push_back(internal::Encode(nullptr));
    return Returns(spec, ready);
  }
  internal::TaskInvocation inv;
  try {
    if (spec.function().kind_case() != rpc::FunctionDescriptor::kCpp) {
      throw TaskFailure{RuntimeError("std::invalid_argument", "task " + TaskName(spec) +
                                                                  " has a non-C++ function descriptor; a C++ worker "
                                                                  "runs C++ descriptors only")};
    }
    if (spec.kwargs_size() > 0) {
      throw TaskFailure{RuntimeError("std::invalid_argument", "keyword arguments are not supported for C++ callees: " +
                                                                  TaskName(spec) + "; pass them positionally")};
    }
    switch (spec.type()) {
      case rpc::ACTOR_CREATION_TASK: inv.kind = internal::TaskInvocation::Kind::kActorCreation; break;
      case rpc::ACTOR_TASK: inv.kind = internal::TaskInvocation::Kind::kActorMethod; break;
      default: inv.kind = internal::TaskInvocation::Kind::kNormal; break;
    }
    inv.function_name = spec.function().cpp().function_name();
    inv.class_name = spec.function().cpp().class_name();
    inv.actor_id = spec.actor_id();
    inv.caller_language = static_cast<Language>(spec.caller_language());
    inv.num_returns = spec.num_returns();
    if (spec.generator() != 0) inv.emit_item = ItemSender(spec, reply);
    inv.args.reserve(spec.args_size());
    for (int i = 0; i < spec.args_size(); ++i) {
      const rpc::TaskArg& a = spec.args(i);
      std::string what = "argument " + std::to_string(i) + " of " + TaskName(spec);
      if (a.kind_case() == rpc::TaskArg::kRef) {
        EntryPtr e = w_.getter().FetchFromOwner(a.ref());
        internal::ValueView v = w_.getter().ViewOf(a.ref().object_id(), e);
        if (v.format == Format::kError) {
          rpc::ErrorRecord cause;
          cause.ParseFromArray(v.body.data(), static_cast<int>(v.body.size()));
          throw ArgumentError(cause, what);
        }
        inv.args.push_back(std::move(v));
      } else {
        if (a.value().format() == rpc::FORMAT_ERROR) {
          rpc::ErrorRecord cause;
          cause.ParseFromString(a.value().body());
          throw ArgumentError(cause, what);
        }
        inv.args.push_back(internal::ViewOfEnvelope(a.value(), spec_ptr));  // a view of the received spec
      }
    }
    if (builtin == "call") {  // argument 0 names the actor function, which gets the actor first
      std::string what = "argument 0 of " + TaskName(spec) + " (the actor function to run)";
      if (inv.args.empty()) throw TaskFailure{RuntimeError("std::invalid_argument", TaskName(spec) +
                                                  " takes the registered name of the actor function to run first")};
      try {
        inv.function_name = internal::Decode<std::string>(inv.args[0], what);
      } catch (const std::exception& e) {
        throw TaskFailure{RuntimeError("std::invalid_argument", e.what())};
      }
      inv.args.erase(inv.args.begin());
      inv.kind = internal::TaskInvocation::Kind::kActorCall;
    }
  } catch (const TaskFailure& f) {
    return ErrorResult(spec, internal::SerializeDeterministic(f.record), false);
  }
  internal::TaskOutcome outcome;
  w_.EnterTask(spec.task_id(), spec.type() == rpc::NORMAL_TASK);
  bool exit_requested = false;
  try {
    ScopedTaskSpec running(spec);  // GetRuntimeContext(), ExitActor()
    TakeActorExitRequest();
    outcome = executor_(inv);
    exit_requested = TakeActorExitRequest();
  } catch (const std::exception& e) {
    outcome = internal::TaskOutcome{};
    outcome.error_record = internal::SerializeDeterministic(
        RuntimeError("std::exception", "the C++ worker failed to run " + TaskName(spec) + ": " + e.what()));
  } catch (...) {
    outcome = internal::TaskOutcome{};
    outcome.error_record = internal::SerializeDeterministic(
        RuntimeError("unknown", "the C++ worker failed to run " + TaskName(spec) + ": an unknown exception"));
  }
  exit_requested = TakeActorExitRequest() || exit_requested;
  w_.ExitTask();
  inv.args.clear();  // drop pins of by-reference arguments
  if (exit_requested && spec.type() != rpc::NORMAL_TASK) {
    w_.ReleaseDeferredRefs(true);
    return ActorExit(spec, "polyray::ExitActor()");
  }
  rpc::TaskResult result = Returns(spec, outcome);  // lends the owned refs inside the returns
  result.set_worker_exiting(outcome.worker_exiting);
  outcome.returns.clear();
  // Only now may the references the task dropped be released: a ref that
  // left inside a return value is counted as lent until the caller borrows it.
  w_.ReleaseDeferredRefs(true);
  return result;
}

rpc::TaskResult TaskReceiver::Returns(const rpc::TaskSpec& spec, internal::TaskOutcome& outcome) {
  if (!outcome.error_record.empty()) {
    rpc::ErrorRecord r;
    bool application = r.ParseFromString(outcome.error_record) && r.kind() == rpc::TASK_ERROR;
    return ErrorResult(spec, outcome.error_record, application);
  }
  rpc::TaskResult result;
  result.set_task_id(spec.task_id());
  if (spec.type() == rpc::ACTOR_CREATION_TASK) {
    result.set_actor_ready(true);
    return result;
  }
  int n = spec.num_returns();
  if (static_cast<int>(outcome.returns.size()) != n) {
    return ErrorResult(spec,
                       internal::SerializeDeterministic(RuntimeError(
                           "std::length_error", TaskName(spec) + " has num_returns=" + std::to_string(n) +
                                                    " but produced " + std::to_string(outcome.returns.size()) +
                                                    " value(s)")),
                       false);
  }
  for (int i = 0; i < n; ++i) {
    std::string error = EncodeReturn(spec, ReturnId(spec.task_id(), i + 1), outcome.returns[i], result.add_returns());
    if (!error.empty()) return ErrorResult(spec, error, false);
  }
  return result;
}

std::string TaskReceiver::EncodeReturn(const rpc::TaskSpec& spec, const std::string& oid, internal::Encoded& enc,
                                       rpc::ReturnObject* r) {
  r->set_object_id(oid);
  uint64_t size = internal::EncodedSize(enc);
  r->set_size(size);
  AddHandleRefs(enc);  // actor handles in a return are lent like refs (actor_handles.h)
  for (const std::string& s : enc.nested_refs) r->add_nested_refs()->ParseFromString(s);
  if (r->nested_refs_size() > 0) {
    w_.borrows().Lend(r->nested_refs(), &spec.caller());  // held for the caller until it acknowledges
    r->set_lender(w_.worker_id());                        // the caller names it when it acknowledges
  }
  if (!policy::TravelsInline(size)) {
    try {
      w_.owned().PutInStore(oid, enc, spec.caller(), /*wait=*/true);  // pinned before the result names it
    } catch (const polyray::ObjectStoreFullError& e) {
      return internal::SerializeDeterministic(SystemError(rpc::OBJECT_STORE_FULL, e.what()));
    } catch (const std::exception& e) {
      return internal::SerializeDeterministic(RuntimeError(
          "polyray::Error", "cannot put the return value of " + TaskName(spec) + " (" + std::to_string(size) +
                                " bytes) into the node's store: " + e.what()));
    }
    r->set_in_store_node(w_.node_id());
  } else {
    internal::ToEnvelope(std::move(enc), r->mutable_value());
  }
  return "";
}

internal::ItemSink TaskReceiver::ItemSender(const rpc::TaskSpec& spec, const ReplyFn& reply) {
  if (spec.generator() != 2) {
    throw TaskFailure{RuntimeError("std::invalid_argument",
                                   TaskName(spec) + " was called with num_returns='dynamic': C++ generators "
                                                    "stream their items (num_returns='streaming') only")};
  }
  // Each item leaves at once, as a return of index k + 1 with generator_item = k (1-based),
  // ahead of the task's final result on the same stream (generator_streams.h has the caller's side).
  auto count = std::make_shared<int>(0);
  return [this, &spec, &reply, count](internal::Encoded item) {
    int k = ++*count;
    rpc::TaskResult result;
    result.set_task_id(spec.task_id());
    result.set_generator_item(k);
    std::string error = EncodeReturn(spec, ReturnId(spec.task_id(), k + 1), item, result.add_returns());
    if (!error.empty()) {
      rpc::ErrorRecord record;
      record.ParseFromString(error);
      throw polyray::Error("generator item " + std::to_string(k - 1) + " of " + TaskName(spec) +
                           " could not be sent: " + record.message());
    }
    if (w_.borrows().HasPending()) w_.borrows().Flush(30'000);  // borrows reach their owners first
    reply(std::move(result));
  };
}

}  // namespace polyray::core
