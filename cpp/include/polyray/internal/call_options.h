// Chainable option setters shared by the callers (Ray's C++ names), as
// CRTP mixins so `Task(f).SetMaxRetries(3).Remote(1)` keeps the caller type.
//
// Invariants: setters only fill internal::CallOptions; the runtime checks
// the values when the call is submitted. Each mixin offers only options that
// mean something for its kind of call.
#ifndef POLYRAY_INTERNAL_CALL_OPTIONS_H_
#define POLYRAY_INTERNAL_CALL_OPTIONS_H_

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "polyray/internal/runtime.h"
#include "polyray/placement_group.h"

namespace polyray {
namespace internal {

/// Holds the options of one call.
class OptionsHolder {
 protected:
  CallOptions options_;
};

/// Resources a task or an actor needs ("CPU", "GPU", "memory", custom).
template <typename Derived>
class ResourceSetters : public virtual OptionsHolder {
 public:
  /// Requires `amount` of resource `name` (replacing an earlier amount).
  Derived& SetResource(const std::string& name, double amount) {
    options_.resources[name] = amount;
    return static_cast<Derived&>(*this);
  }
  /// Requires these resources (adding to / replacing earlier ones).
  Derived& SetResources(const std::map<std::string, double>& resources) {
    for (const auto& [name, amount] : resources) options_.resources[name] = amount;
    return static_cast<Derived&>(*this);
  }
};

/// The display name of a task or an actor call, or the name of an actor.
template <typename Derived>
class NameSetter : public virtual OptionsHolder {
 public:
  /// Task / call: the name shown in logs. Actor creation: the actor's name,
  /// by which GetActor finds it (in its namespace).
  Derived& SetName(const std::string& name) {
    options_.name = name;
    return static_cast<Derived&>(*this);
  }
};

/// Retries of an actor call.
template <typename Derived>
class ActorCallSetters : public virtual OptionsHolder {
 public:
  /// How often this call is sent again when the actor dies while running it
  /// (-1: forever); by default the actor's SetMaxTaskRetries. Calls made while
  /// the actor restarts wait for it and spend no retry.
  Derived& SetMaxTaskRetries(int max_task_retries) {
    options_.max_task_retries = max_task_retries;
    options_.max_task_retries_set = true;
    return static_cast<Derived&>(*this);
  }
  /// Runs this call in the actor's concurrency group `group` (Ray's
  /// concurrency_group); a group the actor does not declare is the call's
  /// error. Throws std::invalid_argument for an empty name.
  Derived& SetConcurrencyGroup(const std::string& group) {
    if (group.empty()) throw std::invalid_argument("SetConcurrencyGroup: the group name is empty");
    options_.concurrency_group = group;
    return static_cast<Derived&>(*this);
  }
};

/// Retries of a normal task.
template <typename Derived>
class RetrySetters : public virtual OptionsHolder {
 public:
  /// Retries after a worker crash (default 3; 0 disables; -1 retries forever).
  Derived& SetMaxRetries(int max_retries) {
    options_.max_retries = max_retries;
    return static_cast<Derived&>(*this);
  }
  /// Whether an exception thrown by the task is retried too (default false).
  Derived& SetRetryExceptions(bool retry_exceptions) {
    options_.retry_exceptions = retry_exceptions;
    return static_cast<Derived&>(*this);
  }
};

/// Options of an actor's creation.
template <typename Derived>
class ActorSetters : public virtual OptionsHolder {
 public:
  /// The namespace of the actor's name (default: the job's namespace).
  Derived& SetNamespace(const std::string& ray_namespace) {
    options_.ray_namespace = ray_namespace;
    return static_cast<Derived&>(*this);
  }
  /// How often the actor is restarted after its worker dies (-1: forever).
  Derived& SetMaxRestarts(int max_restarts) {
    options_.max_restarts = max_restarts;
    return static_cast<Derived&>(*this);
  }
  /// How often a method call is retried after the actor restarts.
  Derived& SetMaxTaskRetries(int max_task_retries) {
    options_.max_task_retries = max_task_retries;
    return static_cast<Derived&>(*this);
  }
  /// How many method calls may run at once (0: the default, 1). With n > 1
  /// the actor's worker runs calls on n threads (Ray's threaded actors):
  /// calls still start in each caller's submission order but may overlap,
  /// so the actor's methods must be thread-safe.
  Derived& SetMaxConcurrency(int max_concurrency) {
    options_.max_concurrency = max_concurrency;
    return static_cast<Derived&>(*this);
  }
  /// Ray's concurrency_groups: group name -> how many of its calls may run
  /// at once, each group on its own threads (calls choose one with
  /// SetConcurrencyGroup; the others run in the default group,
  /// SetMaxConcurrency). C++, Java and Python actors honour them. Throws
  /// std::invalid_argument for an empty name or a size below 1.
  Derived& SetConcurrencyGroups(const std::map<std::string, int>& groups) {
    for (const auto& [name, n] : groups) {
      if (name.empty()) throw std::invalid_argument("SetConcurrencyGroups: a group name is empty");
      if (n < 1) {
        throw std::invalid_argument("SetConcurrencyGroups: group '" + name + "' must allow at least 1 call at a time, got " +
                                    std::to_string(n));
      }
    }
    options_.concurrency_groups = groups;
    return static_cast<Derived&>(*this);
  }
  /// Whether the actor outlives its job (Ray's lifetime="detached"); a
  /// detached actor needs a name.
  Derived& SetDetached(bool detached = true) {
    options_.detached = detached;
    options_.detached_set = true;
    return static_cast<Derived&>(*this);
  }
};

/// Where a task or an actor runs (Ray's scheduling strategies); the last
/// setter called wins. Bad input throws std::invalid_argument at the setter.
template <typename Derived>
class SchedulingSetters : public virtual OptionsHolder {
 public:
  /// Spread over the nodes (Ray's "SPREAD").
  Derived& SetSpread() {
    ResetStrategy();
    options_.scheduling.kind = SchedulingOptions::Kind::kSpread;
    return static_cast<Derived&>(*this);
  }
  /// Run on the node `node_id` (hex, as GetRuntimeContext().GetCurrentNodeId()
  /// gives it); with `soft` it may run elsewhere when that node is gone or full,
  /// else it fails when the node is dead.
  Derived& SetNodeAffinity(const std::string& node_id, bool soft = false) {
    std::string raw = IdFromHex(node_id, 28, "SetNodeAffinity: node_id");
    ResetStrategy();
    options_.scheduling.kind = SchedulingOptions::Kind::kNodeAffinity;
    options_.scheduling.node_id = std::move(raw);
    options_.scheduling.soft = soft;
    return static_cast<Derived&>(*this);
  }
  /// Run inside bundle `bundle_index` of `placement_group` (-1: any bundle);
  /// with `capture_child_tasks`, tasks and actors it starts without a strategy
  /// of their own run in the group too. A resource request no bundle can hold
  /// is refused by Remote() (std::invalid_argument).
  Derived& SetPlacementGroup(const PlacementGroup& placement_group, int bundle_index = -1,
                             bool capture_child_tasks = false) {
    if (placement_group.Empty()) {
      throw std::invalid_argument("SetPlacementGroup: placement_group is empty (default-constructed)");
    }
    const int count = static_cast<int>(placement_group.GetBundles().size());
    if (bundle_index < -1 || (count > 0 && bundle_index >= count)) {
      throw std::invalid_argument("SetPlacementGroup: bundle_index " + std::to_string(bundle_index) +
                                  " is out of range for a placement group of " + std::to_string(count) +
                                  " bundle(s) (-1: any bundle)");
    }
    ResetStrategy();
    options_.scheduling.kind = SchedulingOptions::Kind::kPlacementGroup;
    options_.scheduling.placement_group_id =
        IdFromHex(placement_group.GetID(), 18, "SetPlacementGroup: placement_group id");
    options_.scheduling.bundle_index = bundle_index;
    options_.scheduling.capture_child_tasks = capture_child_tasks;
    options_.scheduling.bundles = placement_group.GetBundles();
    return static_cast<Derived&>(*this);
  }
  /// Run only on nodes whose labels match every condition (Ray's
  /// label_selector): "v", "!v", "in(a,b)", "!in(a,b)". With the default or
  /// SetSpread strategy only (Remote() refuses it with the others).
  Derived& SetLabelSelector(const std::map<std::string, std::string>& selector) {
    CheckLabelSelector(selector, "SetLabelSelector");
    options_.scheduling.label_selector = selector;
    return static_cast<Derived&>(*this);
  }
  /// Label selectors tried in order when no node that could ever hold the
  /// request matches the one before (Ray's fallback_strategy).
  Derived& SetFallbackStrategy(const std::vector<std::map<std::string, std::string>>& selectors) {
    for (size_t i = 0; i < selectors.size(); ++i) {
      CheckLabelSelector(selectors[i], "SetFallbackStrategy[" + std::to_string(i) + "]");
    }
    options_.scheduling.fallback_strategy = selectors;
    return static_cast<Derived&>(*this);
  }

 private:
  // A new strategy; the label selectors stay.
  void ResetStrategy() {
    auto labels = std::move(options_.scheduling.label_selector);
    auto fallback = std::move(options_.scheduling.fallback_strategy);
    options_.scheduling = SchedulingOptions{};
    options_.scheduling.label_selector = std::move(labels);
    options_.scheduling.fallback_strategy = std::move(fallback);
  }

  static bool LabelChars(const std::string& s, const std::string& extra) {
    for (char c : s) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                extra.find(c) != std::string::npos;
      if (!ok) return false;
    }
    return true;
  }

  // std::invalid_argument naming `what` for a malformed key or condition.
  static void CheckLabelSelector(const std::map<std::string, std::string>& selector, const std::string& what) {
    for (const auto& [key, condition] : selector) {
      if (key.empty() || key.size() > 253 || !LabelChars(key, "-_./")) {
        throw std::invalid_argument(what + ": \"" + key + "\" is not a valid label key");
      }
      std::string body = condition.rfind('!', 0) == 0 ? condition.substr(1) : condition;
      std::vector<std::string> values;
      const bool in = body.rfind("in(", 0) == 0 && body.size() >= 4 && body.back() == ')';
      if (in) {
        std::string list = body.substr(3, body.size() - 4);
        size_t start = 0;
        while (true) {
          size_t comma = list.find(',', start);
          std::string v = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          size_t b = v.find_first_not_of(' '), e = v.find_last_not_of(' ');
          values.push_back(b == std::string::npos ? "" : v.substr(b, e - b + 1));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      } else {
        values.push_back(body);
      }
      for (const auto& v : values) {
        if ((in && v.empty()) || v.size() > 63 || !LabelChars(v, "-_.")) {
          throw std::invalid_argument(what + ": the condition \"" + condition + "\" of \"" + key +
                                      "\" is not v, !v, in(a,b) or !in(a,b) with valid label values");
        }
      }
    }
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_INTERNAL_CALL_OPTIONS_H_
