// core/validation.h: sound specs pass, a bad field is named, an addressable
// bad task gets an error result per return.
#include "core/validation.h"

#include <gtest/gtest.h>

namespace polyray::core {
namespace {

rpc::TaskSpec Spec() {
  rpc::TaskSpec s;
  s.set_type(rpc::NORMAL_TASK);
  s.set_job_id(std::string(4, 'j'));
  s.set_task_id(std::string(24, 't'));
  s.set_num_returns(1);
  s.mutable_function()->mutable_cpp()->set_function_name("Plus1");
  s.mutable_caller()->set_host("127.0.0.1");
  s.mutable_caller()->set_port(5);
  s.add_args()->mutable_value()->set_body("x");
  return s;
}

TEST(ValidationTest, SoundSpecPasses) { EXPECT_EQ(CheckTaskSpec(Spec()), ""); }

TEST(ValidationTest, GetObjectRefsPageTokenIsEmptyOrAnObjectId) {
  rpc::GetObjectRefsRequest r;
  EXPECT_EQ(CheckGetObjectRefs(r), "");
  r.set_page_token(std::string(28, 'o'));
  EXPECT_EQ(CheckGetObjectRefs(r), "");
  r.set_page_token("abc");
  EXPECT_NE(CheckGetObjectRefs(r).find("GetObjectRefsRequest.page_token"), std::string::npos);
}

TEST(ValidationTest, BorrowLendersAreWorkerIdsOrEmpty) {
  rpc::UpdateBorrowsRequest r;
  r.mutable_borrower()->set_worker_id(std::string(28, 'w'));
  r.mutable_lender()->set_worker_id(std::string(28, 'l'));
  r.add_lent_received_lenders(std::string(28, 'l'));
  r.add_lent_received_lenders("");  // not known
  EXPECT_EQ(CheckBorrows(r), "");
  r.add_lent_received_lenders("garbage");
  EXPECT_NE(CheckBorrows(r).find("UpdateBorrowsRequest.lent_received_lenders[2]"), std::string::npos);
  r.clear_lent_received_lenders();
  r.mutable_lender()->set_worker_id("short");
  EXPECT_NE(CheckBorrows(r).find("UpdateBorrowsRequest.lender.worker_id"), std::string::npos);
}

TEST(ValidationTest, BadFieldsAreNamed) {
  rpc::TaskSpec s = Spec();
  s.set_task_id("abc");
  EXPECT_EQ(CheckTaskSpec(s), "TaskSpec.task_id: 3 bytes, expected 24");
  EXPECT_FALSE(TaskAddressable(s));
  s = Spec();
  s.set_num_returns(1000000000);
  EXPECT_EQ(CheckTaskSpec(s).rfind("TaskSpec.num_returns", 0), 0u);
  EXPECT_FALSE(TaskAddressable(s));
  s = Spec();
  s.set_type(static_cast<rpc::TaskType>(9));
  EXPECT_EQ(CheckTaskSpec(s), "TaskSpec.type: unknown TaskType value 9");
  s = Spec();
  s.add_args()->mutable_ref()->set_object_id("short");
  EXPECT_EQ(CheckTaskSpec(s), "TaskSpec.args[1].ref.object_id: 5 bytes, expected 28");
}

TEST(ValidationTest, AddressableBadTaskGetsAnErrorResultPerReturn) {
  rpc::TaskSpec s = Spec();
  s.set_num_returns(2);
  s.set_job_id("j");
  std::string problem = CheckTaskSpec(s);
  EXPECT_EQ(problem, "TaskSpec.job_id: 1 bytes, expected 4");
  ASSERT_TRUE(TaskAddressable(s));
  rpc::TaskResult r = InvalidTaskResult(s, problem, "w");
  ASSERT_EQ(r.returns_size(), 2);
  EXPECT_EQ(r.returns(1).object_id(), s.task_id() + std::string("\x02\x00\x00\x00", 4));
  rpc::ErrorRecord rec;
  ASSERT_TRUE(rec.ParseFromString(r.returns(0).value().body()));
  EXPECT_NE(rec.message().find(problem), std::string::npos);
}

}  // namespace
}  // namespace polyray::core
