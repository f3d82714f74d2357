// The C++ SDK's public API (cpp/README.md): `#include <polyray/api.h>` gives all
// of namespace polyray. Build with `g++ -std=c++17 f.cc $(polyray cpp-flags)`.
//
//   polyray::Init();                                    // embedded head node
//   auto r = polyray::Task(Plus1).Remote(1);            // POLYRAY_REMOTE(Plus1)
//   int two = *polyray::Get(r);
//   auto c = polyray::Actor(Counter::Create).Remote(0);
//   auto n = polyray::Get(c.Task(&Counter::Add).Remote(5));
//   auto s = polyray::Task(polyray::PyFunction<int64_t>{"operator", "add"}).Remote(1, 2);
//   polyray::Shutdown();
//
// Invariants: every call other than Init / IsInitialized needs a runtime
// (Init() in a driver; inside polyray_cpp_worker the worker's own) and throws
// polyray::Error naming the missing Init() otherwise. Public headers include
// only the standard library, msgpack-cxx and polyray headers.
#ifndef POLYRAY_API_H_
#define POLYRAY_API_H_

#include <string>

#include "polyray/actor_creator.h"
#include "polyray/actor_handle.h"
#include "polyray/actor_task_caller.h"
#include "polyray/codec.h"
#include "polyray/config.h"
#include "polyray/exceptions.h"
#include "polyray/generator_callers.h"
#include "polyray/object_ref.h"
#include "polyray/object_ref_generator.h"
#include "polyray/objects.h"
#include "polyray/placement_group.h"
#include "polyray/remote.h"
#include "polyray/runtime_context.h"
#include "polyray/task_caller.h"
#include "polyray/xlang_functions.h"
#include "polyray/yield.h"

namespace polyray {

/// What Init() connected to. `dashboard_url` is the head's dashboard
/// (http://host:port; open it with the token of `polyray get-auth-token`),
/// empty when the head serves none; Init() also prints it on stderr.
struct InitInfo {
  std::string address;  // "host:port" of the GCS
  std::string job_id;   // hex
  std::string dashboard_url;
};

/// Starts an embedded head node (GCS + raylet, stopped by Shutdown() or at
/// exit) and connects this process as the driver of a new job. The code
/// search path is $POLYRAY_CODE_SEARCH_PATH, or else the shared libraries of
/// this process that registered POLYRAY_REMOTE functions.
InitInfo Init();

/// Connects this process as the driver of a new job as `config` says (an
/// address of a running head, a code search path, a namespace). Throws
/// polyray::Error when already initialized or when the connection fails.
InitInfo Init(const Config& config);

/// Ends the job: releases what this driver owns, disconnects, and stops the
/// embedded head. Does nothing when not initialized.
void Shutdown();

/// Whether a runtime is available (after Init(), or inside a worker).
bool IsInitialized();

/// The C++ actor named `name` (in `ray_namespace`, default: the job's).
/// Throws polyray::Error when there is none, or when it is not a C++ actor
/// (use GetActorXlang). T is not checked here: a method of another class
/// fails when it runs.
template <typename T>
ActorHandle<T> GetActor(const std::string& name, const std::string& ray_namespace = "") {
  internal::ActorPtr actor = internal::CurrentRuntime().GetActor(name, ray_namespace);
  if (actor && actor->language != Language::kCpp) {
    throw Error("GetActor<T>: the actor '" + name + "' is a " +
                internal::LanguageName(actor->language) + " actor; use GetActorXlang");
  }
  return ActorHandle<T>(std::move(actor));
}

/// The actor named `name`, of any language, as an ActorHandleXlang (call it
/// with PyActorMethod, JavaActorMethod or CppActorMethod).
ActorHandleXlang GetActorXlang(const std::string& name, const std::string& ray_namespace = "");

/// Kills the actor at once (pending calls fail with ActorDiedError); with
/// `no_restart` false it may restart per its max_restarts.
template <typename T>
void Kill(const ActorHandle<T>& actor, bool no_restart = true) {
  if (actor.IsNil()) throw Error("Kill: the actor handle is empty");
  internal::CurrentRuntime().KillActor(actor.entry(), no_restart);
}

/// Kills a Python, Java or C++ actor held by an ActorHandleXlang.
void Kill(const ActorHandleXlang& actor, bool no_restart = true);

/// Cancels the task that produces `ref` (Ray's ray.cancel; Python's
/// polyray.cancel, Java's PolyRay.cancel): a queued task never runs; a running
/// C++ task sees GetRuntimeContext().IsCanceled() (C++ code is not
/// interrupted), a Python one gets TaskCancelled raised; `force` ends the
/// worker process running it. `recursive` also cancels the tasks it
/// submitted. A ref this process borrows is cancelled through its owner.
/// Actor calls: one not sent yet never runs, one sent is asked to stop (a
/// running sync method is not interrupted); `force` on an actor call throws
/// std::invalid_argument (use Kill). Get of a cancelled ref throws
/// TaskCancelledError. A finished task is left as it is.
template <typename T>
void Cancel(const ObjectRef<T>& ref, bool force = false, bool recursive = true) {
  if (ref.IsNil()) throw Error("Cancel: the ObjectRef is empty");
  internal::CurrentRuntime().Cancel(ref.entry(), force, recursive);
}

}  // namespace polyray

#endif  // POLYRAY_API_H_
