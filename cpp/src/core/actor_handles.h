// Actor handles counted like references: an actor goes when its last handle
// goes (issue 17; docs/fault-tolerance.md, "Lifetime"). The same rule as the
// Python core (python/polyray/core/actor_handles.py): every handle of a
// non-detached actor is a reference to one pseudo-object owned by the
// actor's creator; an ActorPtr holds a RefPtr to it (copies of a handle share
// the ActorPtr, so the reference goes with the last copy); handles inside
// values add the pseudo-object to nested_refs; a call through a handle counts
// it as an argument. When the owner's ReferenceCounter frees it, the owner
// asks the GCS to destroy the actor (KillActor with out_of_scope).
#ifndef POLYRAY_CORE_ACTOR_HANDLES_H_
#define POLYRAY_CORE_ACTOR_HANDLES_H_

#include <string>

#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// The pseudo-object id of an actor's handles: the actor id's 12 unique
/// bytes, 8 zero bytes, its JobID, index 0 (no return or put uses index 0).
std::string HandleObjectId(const std::string& actor_id);
/// Whether `oid` is a handle pseudo-object id.
bool IsHandleObjectId(const std::string& oid);
/// The actor of a handle pseudo-object id.
std::string ActorIdOfHandleObject(const std::string& oid);
/// Whether handles of this actor are counted (not detached, not from GetActor).
bool Counted(const rpc::ActorHandle& handle);
/// Appends the pseudo-object of every counted handle in `value.nested_handles`
/// to `value.nested_refs` (the value holds them like refs).
void AddHandleRefs(internal::Encoded& value);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_ACTOR_HANDLES_H_
