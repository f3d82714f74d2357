// Scheduling options of C++ callers (SetSpread / SetNodeAffinity /
// SetPlacementGroup, polyray/internal/call_options.h) as the protocol's
// SchedulingStrategy, with Python's rules (python/polyray/util/
// scheduling_strategies.py): a call with no strategy inside a task or actor
// whose placement group captures child tasks runs in that group (any bundle);
// a resource request no bundle of its group can hold is refused at submission.
#ifndef POLYRAY_CORE_SCHEDULING_H_
#define POLYRAY_CORE_SCHEDULING_H_

#include <map>
#include <string>

#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// The strategy of a call with `options`; `running` is the spec the calling
/// thread runs (null in a driver), `creation` the hosted actor's creation spec
/// (null outside an actor): an actor method's children inherit the actor's.
rpc::SchedulingStrategy StrategyOf(const internal::SchedulingOptions& options, const rpc::TaskSpec* running,
                                   const rpc::TaskSpec* creation);

/// "" when `resources` fit the bundle the options name (any bundle for -1),
/// or the options name no placement group; else why not, naming `what`.
std::string CheckFitsBundle(const internal::SchedulingOptions& options,
                            const std::map<std::string, double>& resources, const std::string& what);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_SCHEDULING_H_
