// Lease proofs (src/core/lease_proof.h): the shared vectors
// (proto/vectors/lease_proof.json, also checked by Python and Java), and the
// worker's LeaseGuard over streams: no proof, a wrong one, another caller, a
// stale lease after a newer grant, actor tasks unchecked.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/ids.h"
#include "core/lease_proof.h"

namespace polyray::core {
namespace {

using nlohmann::json;

json Cases() {
  std::ifstream in(std::string(POLYRAY_SOURCE_DIR) + "/proto/vectors/lease_proof.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str()).at("cases");
}

TEST(LeaseProof, VectorsAgreeWithPythonAndJava) {
  json cases = Cases();
  ASSERT_GE(cases.size(), 5u);
  for (const json& c : cases) {
    rpc::LeaseProof p;
    p.set_lease_id(FromHex(c.at("lease_id").get<std::string>()));
    p.set_holder(FromHex(c.at("holder").get<std::string>()));
    p.set_seq(c.at("seq").get<uint64_t>());
    p.set_proof(FromHex(c.at("proof").get<std::string>()));
    EXPECT_EQ(VerifyLease(FromHex(c.at("key").get<std::string>()), p), c.at("valid").get<bool>())
        << c.at("name").get<std::string>();
  }
}

const std::string kKey = [] {
  std::string k;
  for (int i = 0; i < 32; i++) k.push_back(static_cast<char>(i));
  return k;
}();
const std::string kHolder(28, 'h');
const std::string kOther(28, 'o');

rpc::LeaseProof Grant(const std::string& key, const std::string& lease, const std::string& holder, uint64_t seq) {
  rpc::LeaseProof p;
  p.set_lease_id(lease);
  p.set_holder(holder);
  p.set_seq(seq);
  p.set_proof(SignLease(key, lease, holder, seq));
  return p;
}

StreamLease Open(LeaseGuard& g, const rpc::LeaseProof* p) {
  rpc::PushTasksRequest r;
  if (p != nullptr) *r.mutable_lease() = *p;
  StreamLease s;
  g.Open(r, s);
  return s;
}

rpc::TaskSpec Spec(const std::string& caller, rpc::TaskType type = rpc::NORMAL_TASK) {
  rpc::TaskSpec s;
  s.set_type(type);
  s.set_task_id(std::string(24, 't'));
  s.set_num_returns(1);
  s.mutable_caller()->set_worker_id(caller);
  return s;
}

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(LeaseProof, HolderRunsOthersAreRefused) {
  LeaseGuard g(kKey);
  rpc::LeaseProof good = Grant(kKey, "l1", kHolder, 1);
  EXPECT_EQ(g.Refusal(Open(g, &good), Spec(kHolder)), "");
  EXPECT_TRUE(Has(g.Refusal(Open(g, nullptr), Spec(kHolder)), "no lease proof"));
  rpc::LeaseProof forged = Grant(std::string(32, '\0'), "l1", kHolder, 1);
  EXPECT_TRUE(Has(g.Refusal(Open(g, &forged), Spec(kHolder)), "does not verify"));
  EXPECT_TRUE(Has(g.Refusal(Open(g, &good), Spec(kOther)), "not the lease holder"));
}

TEST(LeaseProof, StaleLeaseRefusedActorTasksUnchecked) {
  LeaseGuard g(kKey);
  rpc::LeaseProof old = Grant(kKey, "a", kHolder, 5);
  rpc::LeaseProof fresh = Grant(kKey, "b", kOther, 6);
  StreamLease old_stream = Open(g, &old);
  EXPECT_EQ(g.Refusal(Open(g, &fresh), Spec(kOther)), "");
  EXPECT_TRUE(Has(g.Refusal(old_stream, Spec(kHolder)), "stale"));
  EXPECT_TRUE(Has(g.Refusal(Open(g, &old), Spec(kHolder)), "stale"));
  EXPECT_EQ(g.Refusal(Open(g, nullptr), Spec(kHolder, rpc::ACTOR_TASK)), "");
  LeaseGuard off(std::nullopt);
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(off.Refusal(StreamLease{}, Spec(kHolder)), "");
}

TEST(LeaseProof, RefusedResultNamesTheReason) {
  rpc::TaskResult r = RefusedTaskResult(Spec(kHolder), "no lease proof was shown", "cpp");
  EXPECT_TRUE(r.lease_refused());
  ASSERT_EQ(r.returns_size(), 1);
  rpc::ErrorRecord rec;
  ASSERT_TRUE(rec.ParseFromString(r.returns(0).value().body()));
  EXPECT_EQ(rec.type_name(), "LeaseRefused");
  EXPECT_TRUE(Has(rec.message(), "no lease proof"));
}

}  // namespace
}  // namespace polyray::core
