// Scheduling options of C++ callers (issue 19 Deliver 4) without a cluster:
// the setters (SetSpread / SetNodeAffinity / SetPlacementGroup) fill
// CallOptions or throw std::invalid_argument naming the field; StrategyOf
// turns them into the protocol's SchedulingStrategy (children captured by
// their parent's placement group, as Python's strategy_for); CheckFitsBundle
// refuses a request no bundle holds; CheckPlacementGroupOptions checks the
// creation options. Also SetNumReturns / CheckReturns (several returns of
// Python and Java callees) and the embedded head's worker pool flags
// (Config.idle_worker_timeout_s, Config.warm_workers). The cluster side is
// tests/api/test_cpp_scheduling.py.
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/embedded_head.h"
#include "core/scheduling.h"
#include "polyray/api.h"

namespace polyray {
namespace {

using internal::SchedulingOptions;
using Kind = internal::SchedulingOptions::Kind;

/// A caller with the scheduling setters whose options the test can read.
class Probe : public internal::SchedulingSetters<Probe> {
 public:
  const internal::CallOptions& options() const { return options_; }
};

const std::string kNode(56, 'a');
const std::string kPg = std::string(28, '0') + "01020304";  // 18 bytes

PlacementGroup Group(int bundles) {
  PlacementGroupCreationOptions o;
  for (int i = 0; i < bundles; i++) o.bundles.push_back({{"CPU", 1.0 + i}});
  return PlacementGroup(kPg, o);
}

std::string MessageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "NOT THROWN";
}

TEST(SchedulingSetters, FillCallOptionsAndTheLastOneWins) {
  Probe p;
  p.SetNodeAffinity(kNode, true);
  EXPECT_EQ(p.options().scheduling.kind, Kind::kNodeAffinity);
  EXPECT_EQ(p.options().scheduling.node_id, std::string(28, '\xaa'));
  EXPECT_TRUE(p.options().scheduling.soft);
  p.SetPlacementGroup(Group(2), 1, true);
  const SchedulingOptions& s = p.options().scheduling;
  EXPECT_EQ(s.kind, Kind::kPlacementGroup);
  EXPECT_EQ(s.placement_group_id.size(), 18u);
  EXPECT_EQ(s.bundle_index, 1);
  EXPECT_TRUE(s.capture_child_tasks);
  EXPECT_EQ(s.bundles.size(), 2u);
  EXPECT_TRUE(s.node_id.empty());  // nothing of the affinity is left
  p.SetSpread();
  EXPECT_EQ(p.options().scheduling.kind, Kind::kSpread);
  EXPECT_TRUE(p.options().scheduling.placement_group_id.empty());
}

TEST(SchedulingSetters, BadInputIsInvalidArgumentNamingTheField) {
  Probe p;
  EXPECT_EQ(MessageOf([&] { p.SetNodeAffinity("abc"); }).rfind("SetNodeAffinity: node_id must be 56 hex digits", 0), 0u);
  EXPECT_NE(MessageOf([&] { p.SetNodeAffinity(std::string(56, 'g')); }), "NOT THROWN");
  EXPECT_EQ(MessageOf([&] { p.SetPlacementGroup(PlacementGroup()); }).rfind("SetPlacementGroup: placement_group is empty", 0),
            0u);
  EXPECT_EQ(MessageOf([&] { p.SetPlacementGroup(Group(2), 2); })
                .rfind("SetPlacementGroup: bundle_index 2 is out of range for a placement group of 2", 0),
            0u);
  EXPECT_NE(MessageOf([&] { p.SetPlacementGroup(Group(2), -2); }), "NOT THROWN");
  EXPECT_EQ(p.options().scheduling.kind, Kind::kDefault);  // a refused setter changes nothing
}

TEST(StrategyOf, EachKindAsTheProtocolSpellsIt) {
  SchedulingOptions o;
  EXPECT_EQ(core::StrategyOf(o, nullptr, nullptr).kind(), rpc::SCHEDULING_DEFAULT);
  o.kind = Kind::kSpread;
  EXPECT_EQ(core::StrategyOf(o, nullptr, nullptr).kind(), rpc::SCHEDULING_SPREAD);
  o.kind = Kind::kNodeAffinity;
  o.node_id = "n";
  o.soft = true;
  rpc::SchedulingStrategy s = core::StrategyOf(o, nullptr, nullptr);
  EXPECT_EQ(s.kind(), rpc::SCHEDULING_NODE_AFFINITY);
  EXPECT_EQ(s.node_id(), "n");
  EXPECT_TRUE(s.soft());
  o = SchedulingOptions{};
  o.kind = Kind::kPlacementGroup;
  o.placement_group_id = "pg";
  o.bundle_index = 3;
  s = core::StrategyOf(o, nullptr, nullptr);
  EXPECT_EQ(s.kind(), rpc::SCHEDULING_PLACEMENT_GROUP);
  EXPECT_EQ(s.placement_group_id(), "pg");
  EXPECT_EQ(s.bundle_index(), 3);
  EXPECT_FALSE(s.capture_child_tasks());
}

TEST(StrategyOf, ChildrenOfACapturingGroupRunInItUnlessTheyNameAStrategy) {
  rpc::TaskSpec parent;
  parent.set_type(rpc::NORMAL_TASK);
  parent.mutable_scheduling()->set_kind(rpc::SCHEDULING_PLACEMENT_GROUP);
  parent.mutable_scheduling()->set_placement_group_id("pg");
  parent.mutable_scheduling()->set_bundle_index(1);
  parent.mutable_scheduling()->set_capture_child_tasks(true);
  rpc::SchedulingStrategy s = core::StrategyOf(SchedulingOptions{}, &parent, nullptr);
  EXPECT_EQ(s.kind(), rpc::SCHEDULING_PLACEMENT_GROUP);
  EXPECT_EQ(s.placement_group_id(), "pg");
  EXPECT_EQ(s.bundle_index(), -1);  // any bundle
  EXPECT_TRUE(s.capture_child_tasks());
  SchedulingOptions spread;
  spread.kind = Kind::kSpread;
  EXPECT_EQ(core::StrategyOf(spread, &parent, nullptr).kind(), rpc::SCHEDULING_SPREAD);
  // An actor method's children look at the actor's creation spec.
  rpc::TaskSpec method;
  method.set_type(rpc::ACTOR_TASK);
  rpc::TaskSpec creation = parent;
  creation.set_type(rpc::ACTOR_CREATION_TASK);
  EXPECT_EQ(core::StrategyOf(SchedulingOptions{}, &method, &creation).kind(), rpc::SCHEDULING_PLACEMENT_GROUP);
  EXPECT_EQ(core::StrategyOf(SchedulingOptions{}, &method, nullptr).kind(), rpc::SCHEDULING_DEFAULT);
  // Without capture_child_tasks the child is placed by default.
  parent.mutable_scheduling()->set_capture_child_tasks(false);
  EXPECT_EQ(core::StrategyOf(SchedulingOptions{}, &parent, nullptr).kind(), rpc::SCHEDULING_DEFAULT);
}

TEST(CheckFitsBundle, RefusesARequestNoBundleHolds) {
  SchedulingOptions o;
  EXPECT_EQ(core::CheckFitsBundle(o, {{"CPU", 100}}, "task f"), "");  // no group: nothing to check
  o.kind = Kind::kPlacementGroup;
  o.bundles = {{{"CPU", 1}}, {{"CPU", 2}, {"GPU", 1}}};
  o.bundle_index = -1;
  EXPECT_EQ(core::CheckFitsBundle(o, {{"CPU", 2}}, "task f"), "");
  EXPECT_EQ(core::CheckFitsBundle(o, {{"CPU", 0}, {"GPU", 1}}, "task f"), "");
  std::string e = core::CheckFitsBundle(o, {{"CPU", 3}}, "task f");
  EXPECT_NE(e.find("task f cannot be scheduled in its placement group"), std::string::npos) << e;
  EXPECT_NE(e.find("none of its bundles"), std::string::npos) << e;
  o.bundle_index = 0;
  e = core::CheckFitsBundle(o, {{"CPU", 2}}, "actor A");
  EXPECT_NE(e.find("not bundle 0"), std::string::npos) << e;
  EXPECT_EQ(core::CheckFitsBundle(o, {{"CPU", 1}}, "actor A"), "");
  o.bundle_index = 5;
  EXPECT_NE(core::CheckFitsBundle(o, {}, "task f").find("bundle index 5 is out of range"), std::string::npos);
}

TEST(CheckPlacementGroupOptions, NamesTheBadField) {
  PlacementGroupCreationOptions o;
  EXPECT_EQ(MessageOf([&] { internal::CheckPlacementGroupOptions(o); })
                .rfind("PlacementGroupCreationOptions.bundles: needs at least one bundle", 0),
            0u);
  o.bundles = {{{"CPU", 1}}, {}};
  EXPECT_EQ(MessageOf([&] { internal::CheckPlacementGroupOptions(o); }),
            "PlacementGroupCreationOptions.bundles[1]: asks for no resource");
  o.bundles = {{{"CPU", 1}}, {{"GPU", -1}}};
  EXPECT_EQ(MessageOf([&] { internal::CheckPlacementGroupOptions(o); })
                .rfind("PlacementGroupCreationOptions.bundles[1][\"GPU\"]: must be a non-negative number", 0),
            0u);
  o.bundles = {{{"CPU", 1}}};
  o.strategy = static_cast<PlacementStrategy>(7);
  EXPECT_EQ(MessageOf([&] { internal::CheckPlacementGroupOptions(o); })
                .rfind("PlacementGroupCreationOptions.strategy", 0),
            0u);
  o.strategy = PlacementStrategy::STRICT_SPREAD;
  EXPECT_EQ(MessageOf([&] { internal::CheckPlacementGroupOptions(o); }), "NOT THROWN");
}

TEST(PlacementGroupCalls, NeedARuntimeAndAHexId) {
  EXPECT_THROW(CreatePlacementGroup({"", {}, PlacementStrategy::PACK}), std::invalid_argument);  // checked first
  EXPECT_THROW(CreatePlacementGroup({"", {{{"CPU", 1}}}, PlacementStrategy::PACK}), Error);      // no Init()
  EXPECT_THROW(RemovePlacementGroup("zz"), std::invalid_argument);
  EXPECT_THROW(Group(1).Wait(0), Error);
}

class ReturnsProbe : public internal::ReturnsSetter<ReturnsProbe> {
 public:
  const internal::CallOptions& options() const { return options_; }
};

TEST(Returns, SetNumReturnsAndWhereItIsRefused) {
  ReturnsProbe p;
  EXPECT_EQ(p.options().num_returns, 1);
  EXPECT_EQ(MessageOf([&] { p.SetNumReturns(0); }), "SetNumReturns: num_returns must be at least 1, got 0");
  p.SetNumReturns(3);
  EXPECT_EQ(p.options().num_returns, 3);
  EXPECT_EQ(MessageOf([&] { internal::CheckReturns(p.options(), Language::kPython, "f", true); }), "NOT THROWN");
  EXPECT_EQ(MessageOf([&] { internal::CheckReturns(p.options(), Language::kJava, "f", true); }), "NOT THROWN");
  EXPECT_EQ(MessageOf([&] { internal::CheckReturns(p.options(), Language::kCpp, "Plus", true); })
                .rfind("SetNumReturns: num_returns=3 is not supported for C++ callee Plus", 0),
            0u);
  EXPECT_EQ(MessageOf([&] { internal::CheckReturns(p.options(), Language::kPython, "f", false); })
                .rfind("Remote: SetNumReturns(3) was called on the call of f; use RemoteMulti", 0),
            0u);
  EXPECT_EQ(MessageOf([&] { internal::CheckReturns(internal::CallOptions{}, Language::kCpp, "f", false); }),
            "NOT THROWN");
}

TEST(HeadPoolFlags, BecomeTheNodesFlagsOrInvalidArgument) {
  using core::EmbeddedHead;
  EXPECT_TRUE(EmbeddedHead::HeadPoolFlags(-1, "").empty());
  EXPECT_TRUE(EmbeddedHead::HeadPoolFlags(-1, " auto ").empty());
  EXPECT_EQ(EmbeddedHead::HeadPoolFlags(1.5, ""), (std::vector<std::string>{"--idle-worker-timeout-s", "1.5"}));
  EXPECT_EQ(EmbeddedHead::HeadPoolFlags(0, "2"),
            (std::vector<std::string>{"--idle-worker-timeout-s", "0", "--warm-workers", "2"}));
  EXPECT_EQ(EmbeddedHead::HeadPoolFlags(-1, "java=2, CPP=1"),
            (std::vector<std::string>{"--warm-workers", "java=2, CPP=1"}));
  EXPECT_EQ(MessageOf([] { EmbeddedHead::HeadPoolFlags(-1, "go=1"); }),
            "Config.warm_workers: 'go=1' is not LANGUAGE=COUNT (python, java, cpp)");
  EXPECT_EQ(MessageOf([] { EmbeddedHead::HeadPoolFlags(-1, "java=-1"); }).rfind("Config.warm_workers: 'java=-1'", 0), 0u);
  EXPECT_NE(MessageOf([] { EmbeddedHead::HeadPoolFlags(-1, "-3"); }), "NOT THROWN");
  EXPECT_EQ(MessageOf([] { EmbeddedHead::HeadPoolFlags(1.0 / 0.0, ""); }),
            "Config.idle_worker_timeout_s must be a finite number of seconds");
}

}  // namespace
}  // namespace polyray
