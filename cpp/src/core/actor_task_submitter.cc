// ActorTaskSubmitter of actor_task_submitter.h.
#include "core/actor_task_submitter.h"

#include <grpcpp/support/status.h>

#include <algorithm>

#include "core/actor_info_client.h"
#include "core/common.h"
#include "core/ids.h"
#include "core/submit_policy.h"
#include "core/task_finisher.h"
#include "core/task_stream.h"

namespace polyray::core {
namespace {

constexpr std::chrono::seconds kActorWatch{30};
/// Pause before asking the GCS again after a failed or empty answer.
constexpr int64_t kWatchRetryMs = 500;
/// Checks of an actor's state after its stream broke, 5 s each.
constexpr int kFinalStateAttempts = 60;

}  // namespace

void ActorTaskSubmitter::Run(Actions& actions) {
  for (auto& a : actions) a();
  actions.clear();
}

ActorTaskSubmitter::QueuePtr ActorTaskSubmitter::QueueOf(const std::string& actor_id) {
  QueuePtr& aq = actors_[actor_id];
  if (!aq) {
    aq = std::make_shared<ActorQueue>();
    aq->actor_id = actor_id;
  }
  return aq;
}

void ActorTaskSubmitter::Fail(const PendingTaskPtr& task, const rpc::ErrorRecord& record, Actions& actions) {
  actions.push_back([this, task, record] { d_.finisher.FailTask(task->spec, record, task->arg_ids); });
}

void ActorTaskSubmitter::WatchCreation(const std::string& actor_id, std::vector<std::string> arg_ids) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    QueuePtr aq = QueueOf(actor_id);
    if (aq->state == rpc::DEAD || aq->state == rpc::ALIVE) {
      actions.push_back([this, ids = std::move(arg_ids)] { d_.finisher.ReleaseArgs(ids); });
    } else {
      aq->creation_args.push_back(std::move(arg_ids));
      Watch(aq, actions);
    }
  }
  Run(actions);
}

namespace {

bool HasRefArgs(const rpc::TaskSpec& spec) {
  for (const rpc::TaskArg& a : spec.args()) {
    if (a.has_ref()) return true;
  }
  for (const rpc::KeywordArg& kw : spec.kwargs()) {
    if (kw.arg().has_ref()) return true;
  }
  return false;
}

}  // namespace

void ActorTaskSubmitter::Submit(PendingTaskPtr task) {
  Actions actions;
  bool resolve = false;
  QueuePtr aq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    aq = QueueOf(task->spec.actor_id());
    bool refs = resolve_ && HasRefArgs(task->spec);
    if (aq->state == rpc::DEAD || closed_ || (!refs && aq->unresolved.empty())) {
      Enter(aq, task, actions);
    } else {
      // Held until its arguments (and every earlier held call's) are ready.
      aq->unresolved.push_back(task);
      if (refs) {
        aq->waiting.insert(task->spec.task_id());
        resolve = true;
      }
      if (aq->state != rpc::ALIVE && !aq->recovering) Watch(aq, actions);  // up by the time they are
    }
  }
  Run(actions);
  if (resolve) {
    std::string id = task->spec.task_id();
    if (!resolve_(task->spec, [this, aq, id] { ArgsReady(aq, id); })) ArgsReady(aq, id);
  }
}

void ActorTaskSubmitter::ArgsReady(const QueuePtr& aq, const std::string& task_id) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    aq->waiting.erase(task_id);
    while (!aq->unresolved.empty() && !aq->waiting.count(aq->unresolved.front()->spec.task_id())) {
      PendingTaskPtr t = std::move(aq->unresolved.front());
      aq->unresolved.pop_front();
      Enter(aq, t, actions);
    }
  }
  Run(actions);
}

bool ActorTaskSubmitter::Knows(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, aq] : actors_) {
    if (aq->inflight.count(task_id)) return true;
    for (const auto* waiting : {&aq->unresolved, &aq->pending}) {
      for (const PendingTaskPtr& t : *waiting) {
        if (t->spec.task_id() == task_id) return true;
      }
    }
  }
  return false;
}

ActorTaskSubmitter::CancelFound ActorTaskSubmitter::Cancel(const std::string& task_id, rpc::Address* actor) {
  Actions actions;
  CancelFound found = CancelFound::kUnknown;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, aq] : actors_) {
      for (auto* waiting : {&aq->unresolved, &aq->pending}) {
        for (auto it = waiting->begin(); it != waiting->end(); ++it) {
          if ((*it)->spec.task_id() != task_id) continue;
          PendingTaskPtr t = *it;
          waiting->erase(it);
          aq->waiting.erase(task_id);
          Fail(t, SystemError(rpc::TASK_CANCELLED, "task " + t->spec.name() + " was cancelled before it ran"),
               actions);
          found = CancelFound::kDropped;
          break;
        }
        if (found != CancelFound::kUnknown) break;
      }
      if (found == CancelFound::kDropped) {
        // Calls behind it that wait for nothing else go now, in order.
        while (!aq->unresolved.empty() && !aq->waiting.count(aq->unresolved.front()->spec.task_id())) {
          PendingTaskPtr t = std::move(aq->unresolved.front());
          aq->unresolved.pop_front();
          Enter(aq, t, actions);
        }
        break;
      }
      if (aq->inflight.count(task_id)) {
        if (actor) *actor = aq->address;
        found = CancelFound::kSent;
        break;
      }
    }
  }
  Run(actions);
  return found;
}

void ActorTaskSubmitter::Enter(const QueuePtr& aq, const PendingTaskPtr& task, Actions& actions) {
  if (aq->state == rpc::DEAD) {
    Fail(task, Died(*aq, task->spec), actions);
  } else if (closed_) {
    Fail(task, SystemError(rpc::ACTOR_DIED, "the polyray runtime is shutting down"), actions);
  } else if (aq->state == rpc::ALIVE) {
    if (!aq->stream) OpenStream(aq);
    Push(aq, task);
  } else {
    aq->pending.push_back(task);
    if (!aq->recovering) Watch(aq, actions);
  }
}

rpc::ErrorRecord ActorTaskSubmitter::Died(const ActorQueue& aq, const rpc::TaskSpec& spec) const {
  std::string msg = "the actor " + Hex(aq.actor_id) + " died before it could run " + spec.name();
  rpc::ErrorRecord r = SystemError(rpc::ACTOR_DIED, msg);
  if (aq.death && aq.death->kind() == rpc::ACTOR_DIED) {
    if (!aq.death->message().empty()) r.set_message(aq.death->message());
    if (aq.death->has_cause()) *r.mutable_cause() = aq.death->cause();
    r.set_reason(aq.death->reason());
    r.set_exit_code(aq.death->exit_code());
  } else if (aq.death) {
    *r.mutable_cause() = *aq.death;
  }
  return r;
}

void ActorTaskSubmitter::Watch(const QueuePtr& aq, Actions& actions) {
  if (aq->watching || closed_) return;
  aq->watching = true;
  rpc::ActorState known = aq->state;
  actions.push_back([this, aq, known] { WatchOnce(aq, known); });
}

void ActorTaskSubmitter::WatchOnce(const QueuePtr& aq, rpc::ActorState known) {
  if (ShuttingDown()) return;
  rpc::GetActorInfoRequest req;
  req.set_actor_id(aq->actor_id);
  req.set_wait_for_change(true);
  req.set_known_state(known);
  d_.gcs.GetActorInfo(req, kActorWatch, [this, aq, known](const grpc::Status& st, rpc::GetActorInfoReply& reply) {
    OnWatchReply(aq, known, st, reply);
  });
}

void ActorTaskSubmitter::OnWatchReply(const QueuePtr& aq, rpc::ActorState known, const grpc::Status& st,
                                      rpc::GetActorInfoReply& reply) {
  if (ShuttingDown()) return;
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!st.ok()) {
      if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        actions.push_back([this, aq, known] { WatchOnce(aq, known); });  // still starting: wait again
      } else if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
        aq->watching = false;
        MarkDead(aq, SystemError(rpc::ACTOR_DIED, "the GCS does not know actor " + Hex(aq->actor_id)), {}, actions);
      } else {
        actions.push_back(
            [this, aq, known] { d_.clock.RunAfter(kWatchRetryMs, [this, aq, known] { WatchOnce(aq, known); }); });
      }
    } else if (!reply.has_actor()) {
      actions.push_back(
          [this, aq, known] { d_.clock.RunAfter(kWatchRetryMs, [this, aq, known] { WatchOnce(aq, known); }); });
    } else {
      const rpc::ActorInfo& info = reply.actor();
      if (info.state() == rpc::DEAD) {
        aq->watching = false;
        MarkDead(aq, info.has_death_cause() ? std::optional<rpc::ErrorRecord>(info.death_cause()) : std::nullopt, {},
                 actions);
      } else if (info.state() == rpc::ALIVE) {
        aq->watching = false;
        if (!aq->recovering) Alive(aq, info.address(), actions);  // else the break's FinalState connects
      } else {
        aq->state = info.state();
        rpc::ActorState now = info.state();
        actions.push_back([this, aq, now] { WatchOnce(aq, now); });
      }
    }
  }
  Run(actions);
}

void ActorTaskSubmitter::ReleaseCreationArgs(ActorQueue& aq, Actions& actions) {
  for (auto& ids : aq.creation_args) {
    actions.push_back([this, ids = std::move(ids)] { d_.finisher.ReleaseArgs(ids); });
  }
  aq.creation_args.clear();
}

void ActorTaskSubmitter::Alive(const QueuePtr& aq, const rpc::Address& address, Actions& actions) {
  aq->state = rpc::ALIVE;
  aq->address = address;
  ReleaseCreationArgs(*aq, actions);
  if (aq->pending.empty()) return;
  OpenStream(aq);
  while (!aq->pending.empty()) {
    Push(aq, aq->pending.front());
    aq->pending.pop_front();
  }
}

void ActorTaskSubmitter::OpenStream(const QueuePtr& aq) {
  int gen = ++aq->generation;
  // Opening only queues the call: no callback runs before this returns.
  aq->stream = d_.streams.Open(
      aq->address, [this, aq](rpc::PushTasksReply& reply) { OnReply(aq, reply); },
      [this, aq, gen](const grpc::Status&) { Broken(aq, gen); });
}

void ActorTaskSubmitter::Push(const QueuePtr& aq, const PendingTaskPtr& task) {
  aq->inflight[task->spec.task_id()] = task;
  aq->stream->Send({task->spec});  // under mu_: calls leave in sequence order
}

void ActorTaskSubmitter::OnReply(const QueuePtr& aq, rpc::PushTasksReply& reply) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (rpc::TaskResult& result : *reply.mutable_results()) {
      auto it = aq->inflight.find(result.task_id());
      if (it == aq->inflight.end()) continue;
      if (result.generator_item() > 0) {  // an item of a generator method still running (in order)
        auto r = std::make_shared<rpc::TaskResult>(std::move(result));
        actions.push_back([this, t = it->second, r] { d_.finisher.GeneratorItem(t->spec, *r); });
        continue;
      }
      PendingTaskPtr t = std::move(it->second);
      aq->inflight.erase(it);
      auto r = std::make_shared<rpc::TaskResult>(std::move(result));
      actions.push_back([this, t, r] { d_.finisher.CompleteTask(t->spec, *r, t->arg_ids); });
    }
  }
  Run(actions);
}

void ActorTaskSubmitter::Broken(const QueuePtr& aq, int generation) {
  std::vector<PendingTaskPtr> inflight;
  rpc::Address was;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != aq->generation || closed_ || ShuttingDown()) return;
    aq->generation++;
    aq->stream.reset();  // safe: the stream holds itself until its OnDone returns
    for (auto& [id, t] : aq->inflight) inflight.push_back(t);
    std::sort(inflight.begin(), inflight.end(), [](const PendingTaskPtr& a, const PendingTaskPtr& b) {
      return a->spec.sequence_no() < b->spec.sequence_no();
    });
    aq->inflight.clear();
    was = aq->address;
    aq->state = rpc::RESTARTING;
    aq->recovering = true;
  }
  for (const auto& t : inflight) {  // the actor may have handed an argument on before it died
    if (t->arg_ids.empty()) continue;
    d_.finisher.HoldArgs(t->arg_ids);
    d_.clock.RunAfter(TaskFinisher::kArgsGraceMs, [this, ids = t->arg_ids] { d_.finisher.ReleaseArgs(ids); });
  }
  FinalState(aq, was, std::move(inflight), 0);
}

void ActorTaskSubmitter::FinalState(const QueuePtr& aq, rpc::Address was, std::vector<PendingTaskPtr> inflight,
                                    int attempt) {
  if (attempt >= kFinalStateAttempts || ShuttingDown()) {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aq->recovering = false;
      MarkDead(aq, SystemError(rpc::ACTOR_DIED, "lost contact with actor " + Hex(aq->actor_id)), std::move(inflight),
               actions);
    }
    Run(actions);
    return;
  }
  rpc::GetActorInfoRequest req;
  req.set_actor_id(aq->actor_id);
  req.set_wait_for_change(true);
  req.set_known_state(rpc::ALIVE);
  auto held = std::make_shared<std::vector<PendingTaskPtr>>(std::move(inflight));
  d_.gcs.GetActorInfo(
      req, std::chrono::seconds(5),
      [this, aq, was, held, attempt](const grpc::Status& st, rpc::GetActorInfoReply& reply) {
        if (ShuttingDown()) return;
        if (!st.ok() && st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
          Actions actions;
          {
            std::lock_guard<std::mutex> lock(mu_);
            aq->recovering = false;
            MarkDead(aq, SystemError(rpc::ACTOR_DIED, "lost contact with actor " + Hex(aq->actor_id) + " (" +
                                                          st.error_message() + ")"),
                     std::move(*held), actions);
          }
          Run(actions);
          return;
        }
        const rpc::ActorInfo& info = reply.actor();
        if (!st.ok() || !reply.has_actor() ||
            (info.state() == rpc::ALIVE && info.address().port() == was.port() && info.address().host() == was.host())) {
          FinalState(aq, was, std::move(*held), attempt + 1);  // the GCS has not seen the death yet
          return;
        }
        std::optional<rpc::ErrorRecord> cause;
        if (info.has_death_cause()) cause = info.death_cause();
        Actions actions;
        {
          std::lock_guard<std::mutex> lock(mu_);
          aq->recovering = false;
          if (info.state() == rpc::DEAD) {
            MarkDead(aq, cause, std::move(*held), actions);
          } else {
            std::optional<rpc::ErrorRecord> last = cause;
            if (info.has_last_death_cause()) last = info.last_death_cause();
            std::vector<PendingTaskPtr> retry;
            for (const PendingTaskPtr& t : *held) {
              // Policy "actor_call": retried on the next incarnation while max_task_retries allows.
              if (policy::ActorCall(true, "RESTARTING", t->spec.max_task_retries(), t->spec.attempt()) ==
                  policy::ActorCallDecision::kRetry) {
                t->spec.set_attempt(t->spec.attempt() + 1);
                d_.finisher.Retried(t->spec);
                retry.push_back(t);
                continue;
              }
              rpc::ErrorRecord r = SystemError(
                  rpc::ACTOR_DIED, "the actor " + Hex(aq->actor_id) + " died while running " + t->spec.name() +
                                       " (attempt " + std::to_string(t->spec.attempt()) +
                                       ", max_task_retries=" + std::to_string(t->spec.max_task_retries()) +
                                       "); it is restarting");
              if (last) {
                *r.mutable_cause() = *last;
                r.set_reason(last->reason());
                r.set_exit_code(last->exit_code());
              }
              Fail(t, r, actions);
            }
            // Retried calls go first: they were sent before anything still waiting.
            for (auto it = retry.rbegin(); it != retry.rend(); ++it) aq->pending.push_front(*it);
            if (info.state() == rpc::ALIVE) {
              Alive(aq, info.address(), actions);
            } else {
              aq->state = info.state();
              Watch(aq, actions);
            }
          }
        }
        Run(actions);
      });
}

void ActorTaskSubmitter::MarkDead(const QueuePtr& aq, std::optional<rpc::ErrorRecord> cause,
                                  std::vector<PendingTaskPtr> extra, Actions& actions) {
  aq->state = rpc::DEAD;
  aq->death = std::move(cause);
  ReleaseCreationArgs(*aq, actions);
  for (auto& t : aq->pending) extra.push_back(t);
  for (auto& [id, t] : aq->inflight) extra.push_back(t);
  for (auto& t : aq->unresolved) extra.push_back(t);
  aq->pending.clear();
  aq->inflight.clear();
  aq->unresolved.clear();
  aq->waiting.clear();
  for (const PendingTaskPtr& t : extra) Fail(t, Died(*aq, t->spec), actions);
}

void ActorTaskSubmitter::Close() {
  std::vector<std::shared_ptr<TaskStream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (auto& [id, aq] : actors_) {
      if (aq->stream) streams.push_back(std::move(aq->stream));
    }
  }
  for (auto& s : streams) s->Close();  // the actor finishes what it has, then ends the stream
}

}  // namespace polyray::core
