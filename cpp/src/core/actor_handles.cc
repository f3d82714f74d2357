// Actor handles counted like references (actor_handles.h).
#include "core/actor_handles.h"

#include "codec/envelope.h"

namespace polyray::core {

std::string HandleObjectId(const std::string& actor_id) {
  if (actor_id.size() != 16) return std::string();
  std::string oid = actor_id.substr(0, 12);
  oid.append(8, '\0');
  oid.append(actor_id, 12, 4);
  oid.append(4, '\0');
  return oid;
}

bool IsHandleObjectId(const std::string& oid) {
  if (oid.size() != 28) return false;
  for (size_t i = 12; i < 20; ++i) {
    if (oid[i] != '\0') return false;
  }
  for (size_t i = 24; i < 28; ++i) {
    if (oid[i] != '\0') return false;
  }
  return true;
}

std::string ActorIdOfHandleObject(const std::string& oid) { return oid.substr(0, 12) + oid.substr(20, 4); }

bool Counted(const rpc::ActorHandle& handle) { return !handle.detached() && handle.actor_id().size() == 16; }

void AddHandleRefs(internal::Encoded& value) {
  for (const std::string& s : value.nested_handles) {
    rpc::ActorHandle h;
    if (!h.ParseFromString(s) || !Counted(h)) continue;
    rpc::ObjectRef r;
    r.set_object_id(HandleObjectId(h.actor_id()));
    *r.mutable_owner() = h.owner();
    value.nested_refs.push_back(internal::SerializeDeterministic(r));
  }
}

}  // namespace polyray::core
