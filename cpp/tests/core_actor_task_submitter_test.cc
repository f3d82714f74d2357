// ActorTaskSubmitter (src/core/actor_task_submitter.h) in process, with a
// fake GCS, fake actor workers, a recording owner and a manual clock
// (core_submitter_fakes.h).
//
// Invariants checked: calls reach the actor's stream in submission order;
// calls made before the actor is ALIVE wait and are flushed in order once it
// is; when the GCS reports DEAD every pending and later call fails with
// ACTOR_DIED carrying the death cause; calls in flight when the stream
// breaks fail with ACTOR_DIED, and later calls go to the restarted actor on
// a new stream; an actor's creation arguments are released once it is up.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/actor_task_submitter.h"
#include "core_submitter_fakes.h"

namespace polyray::core {
namespace {

using fakes::FakeGcs;
using fakes::FakeStreams;
using fakes::Ids;
using fakes::ManualClock;
using fakes::RecordingFinisher;

const std::string kActor = std::string(12, 'a') + std::string("\x01\x00\x00\x00", 4);

class ActorTaskSubmitterTest : public ::testing::Test {
 protected:
  ActorTaskSubmitterTest()
      : submitter_(ActorTaskSubmitter::Deps{gcs_, streams_, finisher_, clock_, [] { return false; }}) {}

  /// Submits the next call (sequence numbers from 1) and returns its task id.
  std::string Call(const std::string& name, int max_task_retries = 0, std::vector<std::string> arg_ids = {},
                   const std::string& actor = kActor, const std::string& ref_arg = "") {
    auto t = std::make_shared<PendingTask>();
    if (!ref_arg.empty()) t->spec.add_args()->mutable_ref()->set_object_id(ref_arg);
    t->arg_ids = std::move(arg_ids);
    t->spec.set_max_task_retries(max_task_retries);
    t->spec.set_type(rpc::ACTOR_TASK);
    t->spec.set_language(rpc::CPP);
    t->spec.set_task_id(NewTaskId(std::string("\x01\x00\x00\x00", 4)));
    t->spec.set_actor_id(actor);
    t->spec.set_name(name);
    t->spec.set_num_returns(1);
    t->spec.set_sequence_no(++seq_[actor]);
    submitter_.Submit(t);
    return t->spec.task_id();
  }

  FakeGcs gcs_;
  FakeStreams streams_;
  RecordingFinisher finisher_;
  ManualClock clock_;
  ActorTaskSubmitter submitter_;
  std::map<std::string, uint64_t> seq_;
  /// The fake resolver's objects: known ones, and the callbacks of calls waiting for others.
  std::set<std::string> known_;
  std::map<std::string, std::vector<std::function<void()>>> waiters_;

  /// Installs a resolver that waits for ref arguments not in known_ (as ObjectGetter::ResolveArgs).
  void InstallResolver() {
    submitter_.SetArgResolver([this](const rpc::TaskSpec& spec, std::function<void()> ready) {
      for (const rpc::TaskArg& a : spec.args()) {
        if (a.has_ref() && !known_.count(a.ref().object_id())) {
          waiters_[a.ref().object_id()].push_back(std::move(ready));
          return true;
        }
      }
      return false;
    });
  }
  /// The object becomes known (a value or an error: the resolver does not tell them apart).
  void Known(const std::string& oid) {
    known_.insert(oid);
    auto cbs = std::move(waiters_[oid]);
    waiters_.erase(oid);
    for (auto& cb : cbs) cb();
  }
};

TEST_F(ActorTaskSubmitterTest, CallsBeforeAliveWaitThenLeaveInSubmissionOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Call("m" + std::to_string(i)));
  EXPECT_TRUE(streams_.opened.empty()) << "no stream before the actor is ALIVE";
  ASSERT_EQ(gcs_.calls.size(), 1u) << "one watch for all waiting calls";
  EXPECT_TRUE(gcs_.calls[0].req.wait_for_change());
  EXPECT_EQ(gcs_.calls[0].req.actor_id(), kActor);

  // Still being created: the submitter keeps waiting, from the new state.
  gcs_.Answer(0, rpc::DEPENDENCIES_UNREADY);
  ASSERT_EQ(gcs_.calls.size(), 2u);
  EXPECT_EQ(gcs_.calls[1].req.known_state(), rpc::DEPENDENCIES_UNREADY);
  EXPECT_TRUE(streams_.opened.empty());

  gcs_.Answer(1, rpc::ALIVE, 7500);
  ASSERT_EQ(streams_.opened.size(), 1u);
  EXPECT_EQ(streams_.opened[0]->worker.port(), 7500);
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), ids) << "flushed in submission order";

  // Calls made once it is up go straight out, after the flushed ones.
  for (int i = 5; i < 8; ++i) ids.push_back(Call("m" + std::to_string(i)));
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), ids);
  EXPECT_EQ(streams_.opened.size(), 1u) << "one stream per actor";
  EXPECT_EQ(gcs_.calls.size(), 2u);

  // Results in any order complete their own calls.
  streams_.opened[0]->Reply({ids[3], ids[0]});
  ASSERT_EQ(finisher_.completed.size(), 2u);
  EXPECT_EQ(finisher_.completed[0].task_id(), ids[3]);
  EXPECT_EQ(finisher_.completed[1].task_id(), ids[0]);
  EXPECT_TRUE(finisher_.failed.empty());
}

TEST_F(ActorTaskSubmitterTest, DeadFailsPendingAndLaterCallsWithActorDied) {
  std::vector<std::string> ids{Call("a"), Call("b"), Call("c")};
  rpc::ErrorRecord cause;
  cause.set_kind(rpc::ACTOR_DIED);
  cause.set_message("the actor was killed");
  gcs_.Answer(gcs_.Open(), rpc::DEAD, 0, &cause);
  ASSERT_EQ(finisher_.failed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(finisher_.failed[i].first.task_id(), ids[i]);
    EXPECT_EQ(finisher_.failed[i].second.kind(), rpc::ACTOR_DIED);
    EXPECT_EQ(finisher_.failed[i].second.message(), "the actor was killed") << "the death cause is kept";
  }
  std::string late = Call("d");
  ASSERT_EQ(finisher_.failed.size(), 4u);
  EXPECT_EQ(finisher_.failed[3].first.task_id(), late);
  EXPECT_EQ(finisher_.failed[3].second.kind(), rpc::ACTOR_DIED);
  EXPECT_TRUE(streams_.opened.empty());
  EXPECT_EQ(gcs_.calls.size(), 1u) << "a dead actor is not watched again";
}

TEST_F(ActorTaskSubmitterTest, BrokenStreamFailsInFlightAndFollowsTheRestart) {
  std::string first = Call("a");
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  std::string second = Call("b");
  ASSERT_EQ(streams_.opened.size(), 1u);
  streams_.opened[0]->Reply({first});
  ASSERT_EQ(finisher_.completed.size(), 1u);

  // The worker dies with `second` in flight; the GCS says it restarts.
  streams_.opened[0]->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  size_t probe = gcs_.Open();
  EXPECT_EQ(gcs_.calls[probe].req.known_state(), rpc::ALIVE);
  gcs_.Answer(probe, rpc::RESTARTING);
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].first.task_id(), second) << "a call in flight may have run: it is not resent";
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::ACTOR_DIED);

  // A call made while it restarts waits for the new worker.
  std::string third = Call("c");
  EXPECT_EQ(streams_.opened.size(), 1u);
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7600);
  ASSERT_EQ(streams_.opened.size(), 2u);
  EXPECT_EQ(streams_.opened[1]->worker.port(), 7600);
  EXPECT_EQ(Ids(streams_.opened[1]->Sent()), std::vector<std::string>{third});
}

TEST_F(ActorTaskSubmitterTest, InFlightCallsAreRetriedOnTheNextIncarnationFirstAndInOrder) {
  std::string a = Call("a", -1);
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  std::string b = Call("b", 1);
  std::string c = Call("c", 0);
  std::string d = Call("d", 2);
  streams_.opened[0]->Reply({a});
  streams_.opened[0]->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  gcs_.Answer(gcs_.Open(), rpc::RESTARTING);
  ASSERT_EQ(finisher_.failed.size(), 1u) << "only the call without retries fails";
  EXPECT_EQ(finisher_.failed[0].first.task_id(), c);
  EXPECT_NE(finisher_.failed[0].second.message().find("max_task_retries=0"), std::string::npos);
  std::string e = Call("e", 0);  // made while restarting: waits, spends nothing
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7600);
  ASSERT_EQ(streams_.opened.size(), 2u);
  std::vector<rpc::TaskSpec> sent = streams_.opened[1]->Sent();
  EXPECT_EQ(Ids(sent), (std::vector<std::string>{b, d, e})) << "retried calls first, in sequence order";
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].attempt(), 1);
  EXPECT_EQ(sent[1].attempt(), 1);
  EXPECT_EQ(sent[2].attempt(), 0);
  EXPECT_EQ(sent[0].sequence_no(), 2u);
  EXPECT_EQ(sent[2].sequence_no(), 5u);
  // Dies again; the GCS already has the next incarnation up when asked.
  streams_.opened[1]->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7700);
  ASSERT_EQ(streams_.opened.size(), 3u);
  std::vector<rpc::TaskSpec> third = streams_.opened[2]->Sent();
  EXPECT_EQ(Ids(third), std::vector<std::string>{d});
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].attempt(), 2);
  EXPECT_EQ(finisher_.failed.size(), 3u) << "b (retry spent) and e (no retries) failed with the second death";
}

TEST_F(ActorTaskSubmitterTest, DeathAfterABreakFailsWithTheReason) {
  Call("m", -1);
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  streams_.opened[0]->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  rpc::ErrorRecord cause;
  cause.set_kind(rpc::ACTOR_DIED);
  cause.set_message("exited with code 3");
  cause.set_reason(rpc::REASON_PROCESS_EXITED);
  cause.set_exit_code(3);
  gcs_.Answer(gcs_.Open(), rpc::DEAD, 0, &cause);
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].second.reason(), rpc::REASON_PROCESS_EXITED);
  EXPECT_EQ(finisher_.failed[0].second.exit_code(), 3);
}

TEST_F(ActorTaskSubmitterTest, FailedWatchIsRetriedAfterAPause) {
  Call("a");
  size_t first = gcs_.Open();
  rpc::GetActorInfoReply empty;
  gcs_.calls[first].answered = true;
  gcs_.calls[first].done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gcs restarting"), empty);
  EXPECT_EQ(gcs_.calls.size(), 1u) << "asked again without a pause";
  clock_.AdvanceMs(1000);
  EXPECT_EQ(gcs_.calls.size(), 2u);
  EXPECT_TRUE(finisher_.failed.empty());
}

TEST_F(ActorTaskSubmitterTest, CreationArgumentsReleasedOnceAlive) {
  submitter_.WatchCreation(kActor, {"arg1", "arg2"});
  EXPECT_TRUE(finisher_.released.empty()) << "released while the actor may still need them";
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  EXPECT_EQ(finisher_.released, (std::vector<std::string>{"arg1", "arg2"}));
}

// docs/ownership.md, Deaths: the actor may have handed an argument on.
TEST_F(ActorTaskSubmitterTest, CallsInFlightOnADeadActorKeepTheirArgumentsForTheGrace) {
  Call("m", 0, {"arg-m"});
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  streams_.opened[0]->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  gcs_.Answer(gcs_.Open(), rpc::DEAD, 0);
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.Counted("arg-m", /*ended=*/true), 1) << "failed, but its argument is still counted";
  clock_.AdvanceMs(TaskFinisher::kArgsGraceMs - 1);
  EXPECT_EQ(finisher_.Counted("arg-m", true), 1);
  clock_.AdvanceMs(1);
  EXPECT_EQ(finisher_.Counted("arg-m", true), 0);
}

// Issue 17: a call waiting for an argument is held in the caller, not in the actor's stream.
const std::string kOther = std::string(12, 'b') + std::string("\x01\x00\x00\x00", 4);

TEST_F(ActorTaskSubmitterTest, CallWaitingForAnArgumentIsHeldAndTheCallersOrderKept) {
  InstallResolver();
  std::string a = Call("a");
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  ASSERT_EQ(streams_.opened.size(), 1u);
  std::string b = Call("b", 0, {}, kActor, "slow-ref");
  std::string c = Call("c");  // no argument, but after b: waits behind it
  known_.insert("ready-ref");
  std::string d = Call("d", 0, {}, kActor, "ready-ref");  // ready, but after b too
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), std::vector<std::string>{a}) << "b waits in the caller, c and d behind it";
  // Another actor's calls from this caller do not wait for it.
  std::string other = Call("o", 0, {}, kOther);
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7600);
  ASSERT_EQ(streams_.opened.size(), 2u);
  EXPECT_EQ(Ids(streams_.opened[1]->Sent()), std::vector<std::string>{other});
  // The actor answers a while b waits: nothing of the stream waits for the argument.
  streams_.opened[0]->Reply({a});
  ASSERT_EQ(finisher_.completed.size(), 1u);
  Known("slow-ref");
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), (std::vector<std::string>{a, b, c, d})) << "submission order";
  std::string e = Call("e", 0, {}, kActor, "ready-ref");
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), (std::vector<std::string>{a, b, c, d, e})) << "ready: straight out";
}

TEST_F(ActorTaskSubmitterTest, LaterCallReadyFirstStillWaitsForTheEarlierOne) {
  InstallResolver();
  std::string a = Call("a", 0, {}, kActor, "x");
  std::string b = Call("b", 0, {}, kActor, "y");
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  EXPECT_TRUE(streams_.opened.empty() || streams_.opened[0]->Sent().empty());
  Known("y");
  EXPECT_TRUE(streams_.opened.empty() || streams_.opened[0]->Sent().empty()) << "b is ready, a is not: b waits";
  Known("x");
  ASSERT_EQ(streams_.opened.size(), 1u);
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), (std::vector<std::string>{a, b}));
}

TEST_F(ActorTaskSubmitterTest, ArgumentErrorGoesWithItsCallOnlyAndLaterCallsRun) {
  // The resolver reports an argument known whether it is a value or an error
  // (its task failed, its owner died): the call goes out and the callee makes
  // the error the call's; the calls after it are not touched.
  InstallResolver();
  std::string a = Call("a", 0, {}, kActor, "failed-ref");
  std::string b = Call("b");
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  Known("failed-ref");
  ASSERT_EQ(streams_.opened.size(), 1u);
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), (std::vector<std::string>{a, b}));
  streams_.opened[0]->Reply({a, b});
  EXPECT_EQ(finisher_.completed.size(), 2u);
  EXPECT_TRUE(finisher_.failed.empty());
}

TEST_F(ActorTaskSubmitterTest, ActorDeathFailsCallsWaitingForArguments) {
  InstallResolver();
  std::string a = Call("a", 0, {}, kActor, "x");
  std::string b = Call("b");
  rpc::ErrorRecord cause;
  cause.set_kind(rpc::ACTOR_DIED);
  cause.set_message("killed");
  gcs_.Answer(gcs_.Open(), rpc::DEAD, 0, &cause);
  ASSERT_EQ(finisher_.failed.size(), 2u);
  EXPECT_EQ(finisher_.failed[0].first.task_id(), a);
  EXPECT_EQ(finisher_.failed[1].first.task_id(), b);
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::ACTOR_DIED);
  Known("x");  // the argument comes later: nothing is sent or failed twice
  EXPECT_TRUE(streams_.opened.empty());
  EXPECT_EQ(finisher_.failed.size(), 2u);
}

TEST_F(ActorTaskSubmitterTest, CancelDropsUnsentCallsAndNamesTheActorOfSentOnes) {
  // polyray::Cancel of actor calls (issue 19): a call waiting for the actor or for an
  // argument fails with TASK_CANCELLED and is never sent; calls behind a dropped
  // held call go out; a call sent is answered with the actor's address.
  InstallResolver();
  std::string waiting = Call("w");  // the actor is not up yet
  EXPECT_TRUE(submitter_.Knows(waiting));
  EXPECT_EQ(submitter_.Cancel(waiting, nullptr), ActorTaskSubmitter::CancelFound::kDropped);
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].first.task_id(), waiting);
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::TASK_CANCELLED);
  EXPECT_FALSE(submitter_.Knows(waiting));
  gcs_.Answer(gcs_.Open(), rpc::ALIVE, 7500);
  std::string sent = Call("s");
  std::string held = Call("h", 0, {}, kActor, "slow-ref");
  std::string behind = Call("b");
  ASSERT_EQ(streams_.opened.size(), 1u);
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), std::vector<std::string>{sent}) << "the cancelled call never left";
  EXPECT_EQ(submitter_.Cancel(held, nullptr), ActorTaskSubmitter::CancelFound::kDropped);
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), (std::vector<std::string>{sent, behind})) << "the call behind goes";
  ASSERT_EQ(finisher_.failed.size(), 2u);
  EXPECT_EQ(finisher_.failed[1].second.kind(), rpc::TASK_CANCELLED);
  rpc::Address at;
  EXPECT_EQ(submitter_.Cancel(sent, &at), ActorTaskSubmitter::CancelFound::kSent);
  EXPECT_EQ(at.port(), 7500);
  streams_.opened[0]->Reply({sent, behind});
  EXPECT_FALSE(submitter_.Knows(sent));
  EXPECT_EQ(submitter_.Cancel(sent, &at), ActorTaskSubmitter::CancelFound::kUnknown) << "finished: left alone";
  Known("slow-ref");  // the dropped call's argument comes later: nothing is sent for it
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), (std::vector<std::string>{sent, behind}));
}

}  // namespace
}  // namespace polyray::core
