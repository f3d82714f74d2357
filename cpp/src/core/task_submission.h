// Builds the TaskSpecs of a CoreWorker's tasks, actor creations and actor
// calls (descriptors, resources, argument encoding) and hands them to the
// submitters; also the GCS's actor registration, look-up and kill.
//
// Invariants: arguments that do not travel inline (policy::TravelsInline)
// are put into the store (owned here) and passed by reference; every object
// a task's arguments reference is counted as submitted until the task
// completes; an actor's calls get sequence numbers from 1 and reach the
// ActorTaskSubmitter in that order; return ObjectIDs are TaskID ‖
// uint32le(i), computed here.
#ifndef POLYRAY_CORE_TASK_SUBMISSION_H_
#define POLYRAY_CORE_TASK_SUBMISSION_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

class CoreWorker;

/// Spec building and GCS actor calls; see the file comment.
class TaskSubmission {
 public:
  explicit TaskSubmission(CoreWorker& w) : w_(w) {}

  /// Submits a normal task; one reference per return.
  std::vector<internal::RefPtr> SubmitTask(const internal::FunctionDescriptor& function,
                                           std::vector<internal::TaskArg> args, const internal::CallOptions& options);
  /// Registers an actor with the GCS (which runs its creation task).
  internal::ActorPtr CreateActor(const internal::FunctionDescriptor& creation, std::vector<internal::TaskArg> args,
                                 const internal::CallOptions& options);
  /// Calls a method of an actor of any language.
  std::vector<internal::RefPtr> SubmitActorTask(const internal::ActorPtr& actor,
                                                const internal::FunctionDescriptor& method,
                                                std::vector<internal::TaskArg> args,
                                                const internal::CallOptions& options);
  /// The live actor of a name; throws polyray::Error when there is none.
  internal::ActorPtr GetActor(const std::string& name, const std::string& ray_namespace);
  /// Kills an actor through the GCS.
  void KillActor(const internal::ActorPtr& actor, bool no_restart);

  /// The protocol descriptor of a boundary descriptor.
  static rpc::FunctionDescriptor Descriptor(const internal::FunctionDescriptor& f);
  /// A display name: "module.qualname", "Class.method", "Function".
  static std::string DisplayName(const internal::FunctionDescriptor& f);

 private:
  rpc::TaskSpec NewSpec(rpc::TaskType type, rpc::Language language, rpc::FunctionDescriptor function,
                        const std::string& name);
  /// Encodes the arguments into `spec` (large values are put first) and
  /// counts the objects they reference as submitted; returns their ids (for
  /// RemoveSubmitted when the task ends or is not sent).
  std::vector<std::string> SubmitArgs(rpc::TaskSpec& spec, std::vector<internal::TaskArg>& args);
  std::vector<internal::RefPtr> ReturnRefs(const rpc::TaskSpec& spec);
  /// Applies CallOptions::generator to `spec` (one return, the stream's end;
  /// no retries); throws std::invalid_argument for a Java callee or "dynamic".
  void CheckGenerator(rpc::TaskSpec& spec, const internal::CallOptions& options);
  /// TaskSpec.generator of a streaming generator task (common.proto).
  static constexpr int kGeneratorStreaming = 2;

  CoreWorker& w_;
  std::mutex seq_mu_;
  std::unordered_map<std::string, uint64_t> actor_seq_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_TASK_SUBMISSION_H_
