// Driver mode: internal::StartDriver / StopDriver (as the Java driver's
// DriverRuntime and python/polyray/api.py _connect). StartDriver starts an
// embedded head when ResolveClusterAddress says so (cluster_address.h), adds
// the job to the GCS (driver language CPP, the code search path), serves the
// driver's CoreWorkerService, registers with the local raylet (is_driver)
// and installs the CoreWorker as this process's runtime. StopDriver ends the
// job (MarkJobFinished: the GCS kills its non-detached actors), frees what
// the driver owns, disconnects and stops the embedded head.
//
// Invariants: a failed StartDriver leaves nothing running (no head, no
// installed runtime); every control-plane call has a deadline.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/auth.h"
#include "core/cluster_address.h"
#include "core/common.h"
#include "core/core_worker.h"
#include "core/embedded_head.h"
#include "core/ids.h"
#include "core/log_subscriber.h"
#include "core/process_runtime.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/gcs.grpc.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

/// What StopDriver undoes.
struct DriverState {
  std::shared_ptr<CoreWorker> core;
  std::optional<EmbeddedHead> head;
  std::shared_ptr<LogSubscriber> logs;
};

/// How long a driver of an embedded head waits for its dashboard's URL.
constexpr int64_t kDashboardWaitMs = 10000;

std::mutex g_mu;
DriverState* g_driver = nullptr;  // guarded by g_mu

std::vector<std::string> SplitPath(const char* s) {
  std::vector<std::string> out;
  if (!s) return out;
  std::string cur;
  for (const char* p = s;; ++p) {
    if (*p == ':' || *p == '\0') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (*p == '\0') break;
    } else {
      cur.push_back(*p);
    }
  }
  return out;
}

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out + "]";
}

/// This process's command line, arguments joined by spaces (at most 1000 characters).
std::string CommandLine() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  for (char& c : raw) {
    if (c == '\0') c = ' ';
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';  // a proto string must be UTF-8: keep ASCII only
  }
  return raw.substr(0, 1000);
}

/// The dashboard URL the head put in its GCS KV store (python/polyray/node.py
/// DASHBOARD_KV): an embedded head writes it a moment after it serves the GCS,
/// so its driver waits for it (at most wait_ms); "" when the head serves none.
std::string ReadDashboardUrl(CoreWorker& core, int64_t wait_ms) {
  auto gcs = rpc::GcsService::NewStub(core.channels().Get(core.options().gcs_address));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (true) {
    rpc::KVGetRequest req;
    req.set_namespace_("cluster");
    req.set_key("dashboard_url");
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(5)));
    rpc::KVGetReply reply;
    grpc::Status st = gcs->KVGet(&ctx, req, &reply);
    if (st.ok() && reply.found()) return reply.value();
    if (std::chrono::steady_clock::now() >= deadline) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

/// Adds the job and builds the driver's CoreWorker (registered, serving).
std::shared_ptr<CoreWorker> Connect(const std::string& address, const internal::DriverConfig& config) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon == address.size() - 1) {
    throw polyray::Error("address must be host:port, got \"" + address + "\"");
  }
  std::string host = address.substr(0, colon);
  std::vector<std::string> csp = config.code_search_path;
  if (csp.empty()) csp = SplitPath(std::getenv("POLYRAY_CODE_SEARCH_PATH"));

  auto channel = core::AuthChannel(address, grpc::ChannelArguments());
  auto gcs = rpc::GcsService::NewStub(channel);
  rpc::NodeInfo node;
  std::string job_id;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(5)));
    rpc::GetAllNodesReply nodes;
    grpc::Status st = gcs->GetAllNodes(&ctx, rpc::GetAllNodesRequest(), &nodes);
    if (!st.ok()) {
      throw polyray::Error("could not reach a polyray GCS at " + address + ": " + st.error_message() +
                           " (is a head running there? start one with `python -m polyray.node --head`)");
    }
    bool found = false;
    for (const auto& n : nodes.nodes()) {
      if (!n.alive()) continue;
      const std::string& h = n.raylet_address().host();
      bool local = h == host || h == "127.0.0.1" || h == "localhost";
      if (!found || local) {
        node = n;
        if (local) {
          found = true;
          break;
        }
        found = true;
      }
    }
    if (!found) throw polyray::Error("the polyray cluster at " + address + " has no alive node");
  }
  {
    rpc::AddJobRequest req;
    rpc::JobInfo* job = req.mutable_job();
    job->set_driver_language(rpc::CPP);
    job->set_driver_pid(static_cast<int32_t>(getpid()));
    job->set_entrypoint(CommandLine());
    job->set_namespace_(config.ray_namespace);
    for (const auto& p : csp) job->add_code_search_path(p);
    for (const auto& [k, v] : config.job_metadata) (*job->mutable_metadata())[k] = v;
    job->set_default_actor_lifetime(config.default_actor_lifetime);
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(10)));
    rpc::AddJobReply reply;
    grpc::Status st = gcs->AddJob(&ctx, req, &reply);
    if (!st.ok()) throw polyray::Error("the GCS at " + address + " did not add the job: " + st.error_message());
    job_id = reply.job_id();
  }
  {
    // As a Python driver stores its sys.path: where this job's Python code may live.
    rpc::KVPutRequest req;
    req.set_namespace_("job");
    req.set_key(job_id + ":sys_path");
    req.set_value(JsonList(csp));
    req.set_overwrite(true);
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(10)));
    rpc::KVPutReply reply;
    gcs->KVPut(&ctx, req, &reply);
  }
  const rpc::Address& raylet = node.raylet_address();
  CoreWorkerOptions o;
  o.is_driver = true;
  o.gcs_address = address;
  o.raylet_address = Target(raylet);
  o.node_id = node.node_id();
  o.store_name = node.store_name();
  o.job_id = job_id;
  o.worker_id = NewWorkerId();
  o.ray_namespace = config.ray_namespace;
  o.code_search_path = csp;
  o.lineage_max_bytes = config.lineage_max_bytes;
  o.default_actor_lifetime = config.default_actor_lifetime;
  o.host = raylet.host().empty() ? "127.0.0.1" : raylet.host();
  auto core = std::make_shared<CoreWorker>(o);
  core->StartServer(nullptr);
  try {
    core->RegisterWithRaylet();
  } catch (...) {
    core->Shutdown();
    Retire(core);
    throw;
  }
  return core;
}

/// Whether `s` is valid UTF-8 (a proto3 string field must be).
bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;  // continuation bytes
    if (c < 0x80) {
      n = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    if (n > s.size() - i - 1) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

void BestEffortEnd(CoreWorker& core) {
  {
    auto gcs = rpc::GcsService::NewStub(core.channels().Get(core.options().gcs_address));
    rpc::MarkJobFinishedRequest req;
    req.set_job_id(core.job_id());
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(5)));
    rpc::MarkJobFinishedReply reply;
    gcs->MarkJobFinished(&ctx, req, &reply);  // the cluster may be gone already
  }
  core.Shutdown();
  {
    auto raylet = rpc::RayletService::NewStub(core.channels().Get(core.options().raylet_address));
    rpc::DisconnectWorkerRequest req;
    req.set_worker_id(core.worker_id());
    req.set_intentional(true);
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(2)));
    rpc::DisconnectWorkerReply reply;
    raylet->DisconnectWorker(&ctx, req, &reply);
  }
}

}  // namespace
}  // namespace polyray::core

namespace polyray::internal {

void ValidateJobConfig(const DriverConfig& config) {
  using polyray::core::ValidUtf8;
  const std::string& lt = config.default_actor_lifetime;
  if (!lt.empty() && lt != "detached" && lt != "non_detached") {
    throw std::invalid_argument("Config.default_actor_lifetime must be \"detached\" or \"non_detached\" (or empty), got \"" +
                                lt + "\"");
  }
  for (const auto& [k, v] : config.job_metadata) {
    if (k.empty()) throw std::invalid_argument("Config.job_metadata: a key is empty");
    if (!ValidUtf8(k) || !ValidUtf8(v)) {
      throw std::invalid_argument("Config.job_metadata: keys and values must be valid UTF-8");
    }
  }
}

DriverInfo StartDriver(const DriverConfig& config) {
  using namespace polyray::core;
  ValidateJobConfig(config);
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_driver) throw polyray::Error("polyray::Init() was called twice: this process is already a driver");
  // "auto", $POLYRAY_ADDRESS, the recorded cluster (cluster_address.h); "" starts an embedded head.
  std::string address = ResolveClusterAddress(config.address);
  std::vector<std::string> pool = EmbeddedHead::HeadPoolFlags(config.idle_worker_timeout_s, config.warm_workers);
  std::optional<EmbeddedHead> head;
  if (address.empty()) {
    head.emplace(EmbeddedHead::Start(60'000, pool));
    address = head->address();
  } else if (!pool.empty()) {
    throw std::invalid_argument(std::string("Config.") +
                                (config.idle_worker_timeout_s >= 0 ? "idle_worker_timeout_s" : "warm_workers") +
                                " can only be set when Init() starts an embedded head, not when connecting to " +
                                address);
  }
  std::shared_ptr<CoreWorker> core;
  try {
    core = Connect(address, config);
    InstallRuntime(core);
  } catch (...) {
    if (core) {
      core->Shutdown();
      Retire(core);
    }
    if (head) head->Stop();
    throw;
  }
  auto state = new DriverState();
  state->core = core;
  state->head = std::move(head);
  state->logs = std::make_shared<LogSubscriber>(core->channels().Get(core->options().gcs_address), core->job_id(),
                                                core->scheduler());
  state->logs->Start();
  if (!core->log_dir().empty()) std::fprintf(stderr, "[polyray] workers' log files: %s\n", core->log_dir().c_str());
  DriverInfo info{address, Hex(core->job_id()), ""};
  info.dashboard_url = ReadDashboardUrl(*core, state->head ? kDashboardWaitMs : 0);
  if (!info.dashboard_url.empty()) std::fprintf(stderr, "[polyray] dashboard: %s\n", info.dashboard_url.c_str());
  g_driver = state;
  return info;
}

void StopDriver() {
  using namespace polyray::core;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_driver) return;
  std::unique_ptr<DriverState> state(g_driver);
  g_driver = nullptr;
  UninstallRuntime();
  // Every line the job's tasks printed reaches this driver first (bounded).
  if (!state->logs->Drain(polyray::spec::kLogsDrainMs)) {
    std::fprintf(stderr, "[polyray] worker output not fully drained within %lld ms\n",
                 static_cast<long long>(polyray::spec::kLogsDrainMs));
  }
  state->logs->Stop();
  BestEffortEnd(*state->core);
  if (state->head) state->head->Stop();
  Retire(state->logs);  // its timers and reader may still name it
}

}  // namespace polyray::internal
