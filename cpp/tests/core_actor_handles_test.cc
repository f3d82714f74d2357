// Actor handles counted like references (core/actor_handles.h, issue 17): the
// pseudo-object ids match Python's and Java's, a value's counted handles add
// their pseudo-object to nested_refs (detached ones do not), and with the real
// ReferenceCounter the free that destroys the actor comes exactly once, when
// the last holder (local handles, calls in flight, a borrower, a dead
// borrower) goes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/envelope.h"
#include "core/actor_handles.h"
#include "core/reference_counter.h"

namespace polyray::core {
namespace {

const std::string kActor = std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12) + std::string("\x07\0\0\0", 4);

rpc::Address Owner() {
  rpc::Address a;
  a.set_host("owner");
  a.set_port(9);
  a.set_worker_id(std::string(28, 'o'));
  return a;
}

TEST(ActorHandles, IdsMatchTheOtherLanguages) {
  std::string hid = HandleObjectId(kActor);
  ASSERT_EQ(hid.size(), 28u);
  EXPECT_EQ(hid, kActor.substr(0, 12) + std::string(8, '\0') + kActor.substr(12) + std::string(4, '\0'));
  EXPECT_TRUE(IsHandleObjectId(hid));
  EXPECT_EQ(ActorIdOfHandleObject(hid), kActor);
  std::string task(24, '\x09');
  EXPECT_FALSE(IsHandleObjectId(task + std::string("\x01\0\0\0", 4)));           // a return
  EXPECT_FALSE(IsHandleObjectId(task + std::string("\x01\0\0\x80", 4)));         // a put
  EXPECT_EQ(HandleObjectId("short"), "");
}

TEST(ActorHandles, CountedHandlesInAValueAreNestedRefs) {
  rpc::ActorHandle counted;
  counted.set_actor_id(kActor);
  *counted.mutable_owner() = Owner();
  rpc::ActorHandle detached = counted;
  detached.set_detached(true);
  internal::Encoded value;
  value.nested_handles = {internal::SerializeDeterministic(counted), internal::SerializeDeterministic(detached)};
  AddHandleRefs(value);
  ASSERT_EQ(value.nested_refs.size(), 1u);
  rpc::ObjectRef r;
  ASSERT_TRUE(r.ParseFromString(value.nested_refs[0]));
  EXPECT_EQ(r.object_id(), HandleObjectId(kActor));
  EXPECT_EQ(r.owner().worker_id(), Owner().worker_id());
}

struct Owned {
  std::vector<std::string> destroyed;
  ReferenceCounter rc;
  Owned() : rc(MakeListener(this)) {}
  static ReferenceCounter::Listener MakeListener(Owned* self) {
    ReferenceCounter::Listener l;
    l.free = [self](const std::string& oid, const std::vector<std::string>&) {
      if (IsHandleObjectId(oid)) self->destroyed.push_back(ActorIdOfHandleObject(oid));
    };
    l.borrow_changed = [](const rpc::Address&, std::vector<std::string>, std::vector<std::string>) {};
    l.lent_received = [](const rpc::Address&, std::vector<std::string>, const std::string&) {};
    l.first_holder = [] {};
    return l;
  }
};

TEST(ActorHandles, DestroyedOnceWhenTheLastHolderGoes) {
  Owned o;
  const std::string hid = HandleObjectId(kActor);
  o.rc.AddOwned(hid);
  o.rc.AddLocal(hid, nullptr);
  o.rc.AddSubmitted({hid});  // a call in flight
  o.rc.RemoveLocal(hid);
  EXPECT_TRUE(o.destroyed.empty());
  const std::string borrower(28, 'b');
  o.rc.UpdateBorrowers(borrower, {hid}, {});
  o.rc.RemoveSubmitted({hid});
  EXPECT_TRUE(o.destroyed.empty()) << "the borrower holds it";
  o.rc.DropBorrower(borrower);  // what the BorrowerWatch does for a dead process
  ASSERT_EQ(o.destroyed.size(), 1u);
  EXPECT_EQ(o.destroyed[0], kActor);
}

}  // namespace
}  // namespace polyray::core
