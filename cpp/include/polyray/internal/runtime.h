// The one door between the C++ SDK's templates (api.h, codec.h) and its
// runtime (src/core): a non-template interface that speaks envelopes and
// serialized protocol messages, so public headers never include protobuf or
// gRPC and user code builds with `polyray cpp-flags` alone.
//
// Invariants:
//  - Every message crossing this door is a serialized polyray.rpc message
//    (ObjectRef, ActorHandle, ErrorRecord) or an envelope (Encoded/ValueView).
//  - A RefPtr / ActorPtr is one local reference: the runtime counts it while
//    the shared_ptr lives and releases it in the deleter (after Shutdown the
//    deleter does nothing).
//  - A ValueView's string_views stay valid while its `keepalive` is held
//    (owned bytes, or a pin on a shared-memory object).
#ifndef POLYRAY_INTERNAL_RUNTIME_H_
#define POLYRAY_INTERNAL_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace polyray {

/// The languages of polyray.rpc.Language, with the same numbers.
enum class Language : int { kPython = 0, kJava = 1, kCpp = 2 };

/// Formats of polyray.rpc.Format, with the same numbers.
enum class Format : int { kXlang = 0, kPython = 1, kRaw = 2, kArrow = 3, kError = 4 };

namespace internal {

/// A value ready to travel: an envelope plus the references found inside it.
struct Encoded {
  Format format = Format::kXlang;
  std::string body;
  /// Out-of-band data (ndarray ext 3 with an int data field), owned.
  std::vector<std::string> buffers;
  /// Serialized polyray.rpc.ObjectRef of every ext 1 in the value.
  std::vector<std::string> nested_refs;
  /// Serialized polyray.rpc.ActorHandle of every ext 2 in the value.
  std::vector<std::string> nested_handles;
};

/// A received value. The views point into memory kept alive by `keepalive`
/// (protobuf bytes, or a shared-memory object pinned until it is released).
struct ValueView {
  Format format = Format::kXlang;
  std::string_view body;
  std::vector<std::string_view> buffers;
  std::shared_ptr<const void> keepalive;
};

/// One local reference to an object (see RefPtr).
struct RefEntry {
  std::string object_id;   // 28 bytes
  std::string serialized;  // polyray.rpc.ObjectRef
};
using RefPtr = std::shared_ptr<const RefEntry>;

/// One local reference to an actor.
struct ActorEntry {
  std::string actor_id;    // 16 bytes
  Language language = Language::kCpp;
  std::string serialized;  // polyray.rpc.ActorHandle
};
using ActorPtr = std::shared_ptr<const ActorEntry>;

/// A function in any language, as polyray.rpc.FunctionDescriptor.
struct FunctionDescriptor {
  Language language = Language::kCpp;
  /// Python: module; Java: class name; C++: registered function name.
  std::string first;
  /// Python: qualified name; Java: method name; C++: class name (actors).
  std::string second;
  /// Java only: an optional JVM signature.
  std::string signature;
};

/// One argument: a value (inline, or put by the runtime when large) or a ref
/// passed by reference (the callee receives the value).
struct TaskArg {
  Encoded value;
  RefPtr ref;  // set: pass this object by reference
};

/// Where a task or an actor runs (polyray.rpc.SchedulingStrategy): set by
/// SetSpread / SetNodeAffinity / SetPlacementGroup (call_options.h).
struct SchedulingOptions {
  enum class Kind { kDefault = 0, kSpread = 1, kNodeAffinity = 2, kPlacementGroup = 3 };
  Kind kind = Kind::kDefault;
  std::string node_id;             // kNodeAffinity: raw bytes
  bool soft = false;               // kNodeAffinity
  std::string placement_group_id;  // kPlacementGroup: raw bytes
  int bundle_index = -1;           // kPlacementGroup; -1: any bundle
  bool capture_child_tasks = false;
  /// kPlacementGroup: the group's bundles, to refuse at submission a request
  /// none of them can hold (as Python's and Ray's callers do).
  std::vector<std::map<std::string, double>> bundles;
  /// kDefault / kSpread: only nodes whose labels match (Ray's label_selector),
  /// then each fallback selector in order (Ray's fallback_strategy); kept when
  /// another strategy setter is called.
  std::map<std::string, std::string> label_selector;
  std::vector<std::map<std::string, std::string>> fallback_strategy;
};

/// Options of a task, an actor creation or an actor call (Ray's names).
struct CallOptions {
  std::map<std::string, double> resources;  // "CPU" defaults to 1 for tasks
  int num_returns = 1;
  int max_retries = -2;        // -2: the runtime's default (3 for tasks)
  bool retry_exceptions = false;
  std::string name;            // task name for logs, or actor name
  std::string ray_namespace;   // actor namespace
  int max_restarts = 0;
  int max_task_retries = 0;
  bool max_task_retries_set = false;  // an actor call's own value (else the actor's)
  int max_concurrency = 0;
  std::map<std::string, int> concurrency_groups;  // actor creation (Ray's concurrency_groups)
  std::string concurrency_group;                  // an actor call's group ("": the default)
  bool detached = false;
  bool detached_set = false;  // SetDetached was called (else a named actor takes the job's default)
  SchedulingOptions scheduling;  // tasks and actor creations
  int generator = 0;  // TaskSpec.generator: 0 none, 2 streaming (object_ref_generator.h)
};

/// One step of a generator task's stream (Runtime::NextGeneratorItem).
struct GeneratorStep {
  enum class State { kItem, kFailed, kEnded };
  State state = State::kEnded;
  RefPtr item;  // kItem: the item, owned here
};

/// Where a C++ generator sends each item it yields (polyray::Yield).
using ItemSink = std::function<void(Encoded)>;

/// A task the worker runs (C++ callee side).
struct TaskInvocation {
  /// kActorCall: an actor function (function_name) run with the actor's instance (__polyray_call__).
  enum class Kind { kNormal, kActorCreation, kActorMethod, kActorCall };
  Kind kind = Kind::kNormal;
  std::string function_name;  // registered name
  std::string class_name;     // actor creation and methods
  std::string actor_id;       // actor creation and methods
  std::vector<ValueView> args;
  /// The caller's language: results are encoded for it.
  Language caller_language = Language::kPython;
  int num_returns = 1;
  /// Set when the caller asked for a streaming generator: sends one item.
  ItemSink emit_item;
};

/// What running a task produced: one Encoded per return, or an error.
struct TaskOutcome {
  std::vector<Encoded> returns;
  /// Set when the task failed: a serialized polyray.rpc.ErrorRecord; the
  /// runtime returns it as an ERROR value for every return.
  std::string error_record;
  /// The actor is gone (its factory threw, or it asked to exit).
  bool worker_exiting = false;
};

/// Runs one task inside a worker; may be called from several threads for
/// different actors, never concurrently for the same actor.
using TaskExecutor = std::function<TaskOutcome(const TaskInvocation&)>;

/// The result of Wait: indices of ready and not-ready refs, in input order.
struct WaitResult {
  std::vector<size_t> ready;
  std::vector<size_t> not_ready;
};

/// The CoreWorker as the templates see it. All calls are thread-safe.
class Runtime {
 public:
  virtual ~Runtime() = default;

  /// Submits a task; one RefPtr per return (owned by this process).
  virtual std::vector<RefPtr> SubmitTask(const FunctionDescriptor& function,
                                         std::vector<TaskArg> args,
                                         const CallOptions& options) = 0;
  /// Creates an actor from a factory/constructor/class descriptor.
  virtual ActorPtr CreateActor(const FunctionDescriptor& creation,
                               std::vector<TaskArg> args,
                               const CallOptions& options) = 0;
  /// Calls a method of an actor of any language.
  ///
  /// `method` names the method only: `method.language` must be the actor's
  /// language, `method.first` is the method name, and the runtime fills in
  /// the class or module from the actor's handle (its class descriptor):
  ///  - Python: module = the class's module, qualname = "<Class>.<first>";
  ///  - Java: class = the actor's class, method = first, signature =
  ///    `method.signature` (optional);
  ///  - C++: function name = `first` when it contains "::" (already
  ///    "Class::Method", as POLYRAY_REMOTE registers methods), else
  ///    "<Class>::<first>", with Class the actor's registered class name.
  /// `method.second` is ignored. Throws polyray::Error when the languages
  /// differ. Calls from one process to one actor are numbered in the order
  /// of their SubmitActorTask calls and dispatched in that order.
  virtual std::vector<RefPtr> SubmitActorTask(const ActorPtr& actor,
                                              const FunctionDescriptor& method,
                                              std::vector<TaskArg> args,
                                              const CallOptions& options) = 0;
  /// Stores a value owned by this process.
  virtual RefPtr Put(Encoded value) = 0;
  /// Values of `refs`, in order; ERROR values come back as views of format
  /// kError (the caller throws them). An error known before every value is
  /// ends the wait at once (Ray's rule): then every view is the first error in
  /// list order among those known. Throws GetTimeoutError after
  /// `timeout_ms` (< 0: no limit).
  virtual std::vector<ValueView> Get(const std::vector<RefPtr>& refs,
                                     int64_t timeout_ms) = 0;
  virtual WaitResult Wait(const std::vector<RefPtr>& refs, int num_returns,
                          int64_t timeout_ms) = 0;
  /// A named actor; throws polyray::Error when there is none.
  virtual ActorPtr GetActor(const std::string& name,
                            const std::string& ray_namespace) = 0;
  virtual void KillActor(const ActorPtr& actor, bool no_restart) = 0;
  /// Cancels the task that returns `ref` (polyray::Cancel, api.h); throws
  /// std::invalid_argument for force on an actor call.
  virtual void Cancel(const RefPtr& ref, bool force, bool recursive) = 0;

  /// A reference found inside a received value (ext 1): registers the borrow.
  virtual RefPtr BorrowRef(const std::string& serialized_ref) = 0;
  /// An actor handle found inside a received value (ext 2).
  virtual ActorPtr BorrowActor(const std::string& serialized_handle) = 0;

  /// Item `k` (0-based) of the generator task whose end object is `end`
  /// (submitted with CallOptions::generator), waiting for it; kFailed / kEnded
  /// once the stream ended without it. Throws GetTimeoutError after
  /// `timeout_ms` (< 0: no limit).
  virtual GeneratorStep NextGeneratorItem(const RefPtr& end, size_t k, int64_t timeout_ms);
  /// The caller of that generator is gone: its items not taken are released.
  virtual void DropGenerator(const RefPtr& end);
};

/// How a driver connects (public as polyray::Config, see config.h).
struct DriverConfig {
  std::string address;  // "host:port" of the GCS; empty: embedded head
  std::vector<std::string> code_search_path;
  std::string ray_namespace;
  long long lineage_max_bytes = -1;  // < 0: the spec's bound
  double idle_worker_timeout_s = -1;  // embedded head only; < 0: the node's default
  std::string warm_workers;           // embedded head only; empty: the node's default
  std::map<std::string, std::string> job_metadata;  // JobInfo.metadata
  std::string default_actor_lifetime;               // "", "detached" or "non_detached"
};

/// Checks the job config fields of `config` (Config::job_metadata,
/// Config::default_actor_lifetime); throws std::invalid_argument naming the field.
void ValidateJobConfig(const DriverConfig& config);

/// What a driver connected to (public as polyray::InitInfo, see api.h).
struct DriverInfo {
  std::string address;        // "host:port" of the GCS
  std::string job_id;         // hex
  std::string dashboard_url;  // the head's dashboard; empty when it serves none
};

/// Connects this process as the driver of a new job (starting an embedded
/// head node when `address` is empty) and makes it CurrentRuntime().
/// Throws polyray::Error naming what failed (no node at the address, ...).
DriverInfo StartDriver(const DriverConfig& config);
/// Ends the job: frees what this driver owns, disconnects, stops an embedded
/// head. Does nothing when there is no driver.
void StopDriver();

/// Worker mode (polyray_cpp_worker): registers with the raylet named by the
/// POLYRAY_* environment the raylet started it with, then serves tasks,
/// calling `executor` for each, until the raylet, an Exit request or the
/// death of the raylet ends it. Returns the process exit code.
int RunWorker(TaskExecutor executor);

/// The runtime of this process. Throws polyray::Error("polyray::Init() has
/// not been called ...") when there is none.
Runtime& CurrentRuntime();
/// Whether CurrentRuntime() would succeed.
bool HasRuntime();

/// Builds the serialized ErrorRecord of a C++ exception raised by a task:
/// `type_name` (demangled), `what`, `traceback` (may be empty) and the
/// serialized record of the remote error that caused it (empty if none).
std::string MakeCppErrorRecord(const std::string& type_name,
                               const std::string& what,
                               const std::string& traceback,
                               const std::string& cause_record);
/// Throws the polyray exception a serialized ErrorRecord stands for.
[[noreturn]] void ThrowErrorRecord(std::string_view record);

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_INTERNAL_RUNTIME_H_
