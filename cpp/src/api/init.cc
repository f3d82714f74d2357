// Init / Shutdown / IsInitialized of the public API (polyray/api.h), and the
// non-template actor functions (GetActorXlang, Kill of an xlang handle).
//
// Invariants: Init fills the defaults the API documents (code search path
// from POLYRAY_CODE_SEARCH_PATH, else the libraries of this process that
// registered remote functions) and leaves everything else to StartDriver.
#include <cstdlib>
#include <string>
#include <vector>

#include "api/library_loader.h"
#include "polyray/api.h"

namespace polyray {

InitInfo Init() { return Init(Config{}); }

InitInfo Init(const Config& config) {
  if (internal::HasRuntime()) {
    throw Error("polyray::Init(): already initialized; call polyray::Shutdown() first");
  }
  internal::DriverConfig driver;
  driver.address = config.address;
  driver.code_search_path = config.code_search_path;
  driver.ray_namespace = config.ray_namespace;
  driver.lineage_max_bytes = config.lineage_max_bytes;
  driver.idle_worker_timeout_s = config.idle_worker_timeout_s;
  driver.warm_workers = config.warm_workers;
  driver.job_metadata = config.job_metadata;
  driver.default_actor_lifetime = config.default_actor_lifetime;
  internal::ValidateJobConfig(driver);  // before anything starts
  if (driver.code_search_path.empty()) {
    const char* env = std::getenv("POLYRAY_CODE_SEARCH_PATH");
    if (env != nullptr) driver.code_search_path = internal::SplitSearchPath(env);
  }
  if (driver.code_search_path.empty()) {
    driver.code_search_path = internal::Registry::Instance().Libraries();
  }
  internal::DriverInfo info = internal::StartDriver(driver);
  return InitInfo{info.address, info.job_id, info.dashboard_url};
}

void Shutdown() { internal::StopDriver(); }

bool IsInitialized() { return internal::HasRuntime(); }

ActorHandleXlang GetActorXlang(const std::string& name, const std::string& ray_namespace) {
  return ActorHandleXlang(internal::CurrentRuntime().GetActor(name, ray_namespace));
}

void Kill(const ActorHandleXlang& actor, bool no_restart) {
  if (actor.IsNil()) throw Error("Kill: the actor handle is empty");
  internal::CurrentRuntime().KillActor(actor.entry(), no_restart);
}

}  // namespace polyray
