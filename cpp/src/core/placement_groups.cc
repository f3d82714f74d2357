// Placement groups from C++ (polyray/placement_group.h): the GCS RPCs Python
// uses (python/polyray/util/placement_group.py), made blocking on the caller's
// thread with a deadline each.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"
#include "polyray/placement_group.h"
#include "polyray/protocol/gcs.grpc.pb.h"

namespace polyray {
namespace {

/// Each long poll of the GCS for a group's creation lasts at most this long (as Python's).
constexpr std::chrono::milliseconds kPollMax{20'000};

core::CoreWorker& Core() {
  auto* core = dynamic_cast<core::CoreWorker*>(&internal::CurrentRuntime());
  if (core == nullptr) throw Error("this process's runtime is not a CoreWorker");
  return *core;
}

std::unique_ptr<rpc::GcsService::Stub> Gcs(core::CoreWorker& w) {
  return rpc::GcsService::NewStub(w.channels().Get(w.options().gcs_address));
}

[[noreturn]] void Fail(const std::string& what, const grpc::Status& st) {
  throw Error(what + ": the GCS answered " + std::to_string(st.error_code()) + " " + st.error_message());
}

PlacementGroupCreationOptions OptionsOf(const rpc::PlacementGroupInfo& g) {
  PlacementGroupCreationOptions o;
  o.name = g.name();
  o.strategy = static_cast<PlacementStrategy>(g.strategy());
  o.detached = g.job_id().empty();
  for (const rpc::ResourceMap& b : g.bundles()) o.bundles.emplace_back(b.amounts().begin(), b.amounts().end());
  return o;
}

/// The group's info; `wait_ms` > 0 long-polls until it is created (or that long).
bool Fetch(const std::string& raw_id, int64_t wait_ms, rpc::PlacementGroupInfo* out) {
  core::CoreWorker& w = Core();
  rpc::GetPlacementGroupRequest req;
  req.set_placement_group_id(raw_id);
  req.set_wait_until_created(wait_ms > 0);
  rpc::GetPlacementGroupReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(core::DeadlineIn(std::chrono::milliseconds(std::max<int64_t>(wait_ms, 500))));
  grpc::Status st = Gcs(w)->GetPlacementGroup(&ctx, req, &reply);
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && wait_ms > 0) return false;
  if (!st.ok()) Fail("placement group " + core::Hex(raw_id), st);
  *out = reply.group();
  return true;
}

}  // namespace

namespace internal {

std::string IdFromHex(const std::string& hex, size_t bytes, const std::string& what) {
  bool ok = hex.size() == 2 * bytes &&
            std::all_of(hex.begin(), hex.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
  if (!ok) {
    throw std::invalid_argument(what + " must be " + std::to_string(2 * bytes) + " hex digits (" +
                                std::to_string(bytes) + " bytes), got '" + hex.substr(0, 80) + "'");
  }
  return core::FromHex(hex);
}

void CheckPlacementGroupOptions(const PlacementGroupCreationOptions& o) {
  const std::string f = "PlacementGroupCreationOptions.";
  int strategy = static_cast<int>(o.strategy);
  if (strategy < 0 || strategy > 3) {
    throw std::invalid_argument(f + "strategy: must be PACK, SPREAD, STRICT_PACK or STRICT_SPREAD, got " +
                                std::to_string(strategy));
  }
  if (o.bundles.empty()) {
    throw std::invalid_argument(f + "bundles: needs at least one bundle (a map of resource -> amount)");
  }
  if (o.name.size() > static_cast<size_t>(spec::kLimitsMaxNameBytes)) {
    throw std::invalid_argument(f + "name: " + std::to_string(o.name.size()) + " bytes, at most " +
                                std::to_string(spec::kLimitsMaxNameBytes));
  }
  for (size_t i = 0; i < o.bundles.size(); ++i) {
    const std::string where = f + "bundles[" + std::to_string(i) + "]";
    bool asks = false;
    for (const auto& [name, amount] : o.bundles[i]) {
      if (name.empty()) throw std::invalid_argument(where + ": a resource has an empty name");
      if (!std::isfinite(amount) || amount < 0) {
        throw std::invalid_argument(where + "[\"" + name + "\"]: must be a non-negative number, got " +
                                    std::to_string(amount));
      }
      asks = asks || amount > 0;
    }
    if (!asks) throw std::invalid_argument(where + ": asks for no resource");
  }
}

}  // namespace internal

PlacementGroup CreatePlacementGroup(const PlacementGroupCreationOptions& options) {
  internal::CheckPlacementGroupOptions(options);
  core::CoreWorker& w = Core();
  std::string raw = core::RandomBytes(spec::kIdsPlacementGroupBytes - spec::kIdsJobBytes) + w.job_id();
  rpc::CreatePlacementGroupRequest req;
  rpc::PlacementGroupInfo* g = req.mutable_group();
  g->set_placement_group_id(raw);
  g->set_strategy(static_cast<rpc::PlacementStrategy>(options.strategy));
  g->set_name(options.name);
  if (!options.detached) g->set_job_id(w.job_id());
  for (const auto& b : options.bundles) {
    auto* amounts = g->add_bundles()->mutable_amounts();
    for (const auto& [name, amount] : b) (*amounts)[name] = amount;
  }
  rpc::CreatePlacementGroupReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(core::DeadlineIn(core::kRpcTimeout));
  grpc::Status st = Gcs(w)->CreatePlacementGroup(&ctx, req, &reply);
  if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) throw std::invalid_argument(st.error_message());
  if (!st.ok()) Fail("CreatePlacementGroup", st);
  return PlacementGroup(core::Hex(raw), options);
}

void RemovePlacementGroup(const std::string& placement_group_id) {
  std::string raw = internal::IdFromHex(placement_group_id, spec::kIdsPlacementGroupBytes,
                                        "RemovePlacementGroup: placement_group_id");
  core::CoreWorker& w = Core();
  rpc::RemovePlacementGroupRequest req;
  req.set_placement_group_id(raw);
  rpc::RemovePlacementGroupReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(core::DeadlineIn(core::kRpcTimeout));
  grpc::Status st = Gcs(w)->RemovePlacementGroup(&ctx, req, &reply);
  if (!st.ok()) Fail("RemovePlacementGroup " + placement_group_id, st);
}

PlacementGroup GetPlacementGroupById(const std::string& placement_group_id) {
  std::string raw = internal::IdFromHex(placement_group_id, spec::kIdsPlacementGroupBytes,
                                        "GetPlacementGroupById: placement_group_id");
  rpc::PlacementGroupInfo g;
  Fetch(raw, 0, &g);
  if (g.placement_group_id().empty()) throw Error("GetPlacementGroupById: no placement group " + placement_group_id);
  return PlacementGroup(placement_group_id, OptionsOf(g));
}

PlacementGroup GetPlacementGroup(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("GetPlacementGroup: name is empty");
  core::CoreWorker& w = Core();
  auto gcs = Gcs(w);
  rpc::ListPlacementGroupsRequest req;
  while (true) {
    rpc::ListPlacementGroupsReply page;
    grpc::ClientContext ctx;
    ctx.set_deadline(core::DeadlineIn(core::kRpcTimeout));
    grpc::Status st = gcs->ListPlacementGroups(&ctx, req, &page);
    if (!st.ok()) Fail("GetPlacementGroup '" + name + "'", st);
    for (const rpc::PlacementGroupInfo& g : page.groups()) {
      if (g.name() == name && g.state() != rpc::PG_REMOVED) {
        return PlacementGroup(core::Hex(g.placement_group_id()), OptionsOf(g));
      }
    }
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  throw Error("GetPlacementGroup: no placement group named '" + name + "' (that is not removed)");
}

bool PlacementGroup::Wait(int timeout_seconds) const {
  if (Empty()) throw Error("PlacementGroup::Wait: the placement group handle is empty");
  std::string raw = internal::IdFromHex(id_, spec::kIdsPlacementGroupBytes, "PlacementGroup id");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(0, timeout_seconds));
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    rpc::PlacementGroupInfo g;
    bool answered = Fetch(raw, left.count() > 0 ? std::min(left, kPollMax).count() : 0, &g);
    if (answered && g.state() == rpc::PG_CREATED) return true;
    if (answered && g.state() == rpc::PG_REMOVED) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

PlacementGroupState PlacementGroup::GetState() const {
  if (Empty()) throw Error("PlacementGroup::GetState: the placement group handle is empty");
  rpc::PlacementGroupInfo g;
  Fetch(internal::IdFromHex(id_, spec::kIdsPlacementGroupBytes, "PlacementGroup id"), 0, &g);
  return static_cast<PlacementGroupState>(g.state());
}

}  // namespace polyray
