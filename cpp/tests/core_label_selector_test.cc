// Label selectors of C++ callers (issue 17) without a cluster: SetLabelSelector
// / SetFallbackStrategy fill CallOptions (kept across the strategy setters) or
// throw std::invalid_argument naming the setter; StrategyOf puts them into the
// protocol's SchedulingStrategy as Python's and Java's callers do;
// CheckFitsBundle refuses them with a node affinity or a placement group. The
// raylet and the GCS match them (tests/raylet/test_gpus_labels.py,
// tests/gcs/test_node_labels.py, tests/cluster/test_gpus_labels.py).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/scheduling.h"
#include "polyray/api.h"

namespace polyray {
namespace {

using Kind = internal::SchedulingOptions::Kind;

class Probe : public internal::SchedulingSetters<Probe> {
 public:
  const internal::CallOptions& options() const { return options_; }
};

std::string MessageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "NOT THROWN";
}

TEST(LabelSelector, TravelsWithDefaultAndSpreadAndSurvivesTheStrategySetters) {
  Probe p;
  p.SetLabelSelector({{"zone", "in(a, b)"}, {"polyray.io/node-id", "!abc"}});
  p.SetFallbackStrategy({{{"zone", "c"}}, {{"tier", "!slow"}}});
  rpc::SchedulingStrategy s = core::StrategyOf(p.options().scheduling, nullptr, nullptr);
  EXPECT_EQ(s.kind(), rpc::SCHEDULING_DEFAULT);
  ASSERT_EQ(s.label_selector().size(), 2u);
  EXPECT_EQ(s.label_selector().at("zone"), "in(a, b)");
  EXPECT_EQ(s.label_selector().at("polyray.io/node-id"), "!abc");
  ASSERT_EQ(s.fallback_size(), 2);
  EXPECT_EQ(s.fallback(0).selector().at("zone"), "c");
  EXPECT_EQ(s.fallback(1).selector().at("tier"), "!slow");
  p.SetSpread();
  s = core::StrategyOf(p.options().scheduling, nullptr, nullptr);
  EXPECT_EQ(s.kind(), rpc::SCHEDULING_SPREAD);
  EXPECT_EQ(s.label_selector().size(), 2u);
  EXPECT_EQ(s.fallback_size(), 2);
  EXPECT_EQ(core::CheckFitsBundle(p.options().scheduling, {{"CPU", 1.0}}, "task F"), "");
  // No selector: nothing travels.
  Probe none;
  EXPECT_EQ(core::StrategyOf(none.options().scheduling, nullptr, nullptr).label_selector_size(), 0);
}

TEST(LabelSelector, MalformedSelectorsAndAffinityWithSelectorsAreRefused) {
  Probe p;
  EXPECT_EQ(MessageOf([&] { p.SetLabelSelector({{"zone", "in()"}}); }).rfind("SetLabelSelector: the condition", 0), 0u);
  EXPECT_EQ(MessageOf([&] { p.SetLabelSelector({{"bad key!", "a"}}); }).rfind("SetLabelSelector: \"bad key!\"", 0),
            0u);
  EXPECT_EQ(MessageOf([&] { p.SetFallbackStrategy({{{"zone", "a"}}, {{"zone", "a b"}}}); })
                .rfind("SetFallbackStrategy[1]", 0),
            0u);
  EXPECT_TRUE(p.options().scheduling.label_selector.empty());  // a refused setter changes nothing
  p.SetLabelSelector({{"zone", "a"}});
  p.SetNodeAffinity(std::string(56, 'a'), true);
  std::string why = core::CheckFitsBundle(p.options().scheduling, {{"CPU", 1.0}}, "task F");
  EXPECT_NE(why.find("default or SetSpread strategy only"), std::string::npos) << why;
}

}  // namespace
}  // namespace polyray
