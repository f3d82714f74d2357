// Reference counts of the objects this process owns or borrows
// (docs/protocol.md §7.4, §7.5; the rules of the Java and Python runtimes).
//
// An owned object stays alive while any count is non-zero: live RefPtrs here
// (`local`), submitted tasks that take it as an argument (`submitted`), other
// processes that borrow it (`borrowers`), owned objects whose value contains
// it (`contained_in`), and returns carrying it to a caller that has not
// acknowledged it yet (`lent`, per caller). At zero the owner frees it. A
// borrowed object registers this process with its owner on its first local
// reference and unregisters after its last one.
//
// The reference protocol (docs/ownership.md): a ref travelling to a caller
// inside a task's return is held on that caller's behalf (a lend under
// (caller, lender)) until the caller acknowledges it (`lent_received`, naming
// the executor the return came from) after taking its own hold; callers that
// do not acknowledge are lent under the caller "" and released by their first
// "added". A lender (the executor that sent a lend; "" for this process's
// own objects) is watched like a borrower: when it dies, its lends the caller
// has not acknowledged are released with DropBorrower.
//
// Dead holders (docs/ownership.md, "The reference protocol", Deaths): the
// counter keeps, per other process that borrows or is lent something here,
// how many (object, process) records it has and its address (`Holders`); the
// BorrowerWatch asks the GCS about them while any exist and calls
// `DropBorrower` for each dead one.
//
// Invariants: one mutex guards the counts; the actions a change causes (frees,
// borrow updates) go to the Listener after the mutex is released, so the
// listener may call back into the counter.
#ifndef POLYRAY_CORE_REFERENCE_COUNTER_H_
#define POLYRAY_CORE_REFERENCE_COUNTER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// Counts references; see the file comment.
class ReferenceCounter {
 public:
  /// What the counter asks its CoreWorker to do.
  struct Listener {
    /// An owned object's counts reached zero; `nodes`: the nodes whose
    /// stores hold copies, the primary copy's first (empty: inline).
    std::function<void(const std::string& oid, const std::vector<std::string>& nodes)> free;
    /// Register (`added`) or unregister (`removed`) borrows with an owner.
    std::function<void(const rpc::Address& owner, std::vector<std::string> added,
                       std::vector<std::string> removed)>
        borrow_changed;
    /// Acknowledge lends of refs received in a task's return (`lent_received`)
    /// from `lender` (the executor's worker id; "" not known).
    std::function<void(const rpc::Address& owner, std::vector<std::string> oids, const std::string& lender)>
        lent_received;
    /// The first holder (another process borrowing or lent something here)
    /// appeared: start watching for holders' deaths (BorrowerWatch::Start).
    std::function<void()> first_holder;
  };

  explicit ReferenceCounter(Listener listener) : listener_(std::move(listener)) {}

  /// Registers an object this process owns, before any reference exists.
  void AddOwned(const std::string& oid);
  /// The owned objects nested in an owned object's value live as long as it does.
  void SetContains(const std::string& oid, const std::vector<std::string>& contains);
  /// The owned object's value is in the store of `node_id` (its primary copy).
  void SetInStore(const std::string& oid, const std::string& node_id);
  /// Another node now holds a copy of an owned object (pulled there; an
  /// AddObjectLocation). Ignored for objects not owned or not counted.
  void AddLocation(const std::string& oid, const std::string& node_id);
  /// The nodes holding copies of an owned object, the primary copy's first.
  std::vector<std::string> Locations(const std::string& oid) const;
  /// Whether this process owns `oid` and still counts it.
  bool IsOwned(const std::string& oid) const;
  /// A borrowed object held here whose "added" to its owner was decided (local reads, owner_watch.h).
  bool IsBorrowRegistered(const std::string& oid) const;
  /// A new local reference; `owner` null means this process owns the object.
  void AddLocal(const std::string& oid, const rpc::Address* owner);
  /// A local reference was dropped.
  void RemoveLocal(const std::string& oid);
  /// Tasks were submitted that take these objects as arguments.
  void AddSubmitted(const std::vector<std::string>& oids);
  /// Those tasks finished.
  void RemoveSubmitted(const std::vector<std::string>& oids);
  /// Owned references travel inside a return value to `caller` (its worker
  /// id; "": a caller that does not acknowledge lends).
  void AddLent(const std::vector<std::string>& oids, const std::string& caller = "",
               const rpc::Address* caller_address = nullptr);
  /// One UpdateBorrows from (or, for `lent`, on behalf of) `borrower`:
  /// `added` and `lent` first, then `removed` and `lent_received`. `lender`:
  /// the executor that sent `lent` (watched like a borrower while its lends
  /// are unacknowledged; null: not named); `lent_received_lenders[i]`: the
  /// worker id of the executor whose return carried `lent_received[i]`
  /// (missing or "": not known).
  void UpdateBorrowers(const std::string& borrower, const std::vector<std::string>& added,
                       const std::vector<std::string>& removed, const std::vector<std::string>& lent = {},
                       const std::vector<std::string>& lent_received = {},
                       const rpc::Address* borrower_address = nullptr, const rpc::Address* lender = nullptr,
                       const std::vector<std::string>& lent_received_lenders = {});
  /// A borrower (or caller) process died: it holds nothing any more, nothing
  /// is lent to it, and the lends it made as an executor that its callers
  /// have not acknowledged are released; what only it held is freed.
  void DropBorrower(const std::string& borrower);
  /// The other processes that borrow or are lent something owned here (their
  /// addresses; worker id only when none was given): those whose death must
  /// be watched.
  std::vector<rpc::Address> Holders() const;
  /// (Caller.) Acknowledges the lends of the refs of a return it received,
  /// after taking its own hold on them (or deciding not to). `lender`: the
  /// executor the return came from (its ReturnObject.lender; "" not known).
  void AckReturned(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& nested, const std::string& self_id,
                   const std::string& lender = "");
  /// Copies of owned objects: one (oid, node) pair per copy (shutdown frees them).
  std::vector<std::pair<std::string, std::string>> OwnedInStore() const;
  /// One object's counts, copied for the state API (GetObjectRefs).
  struct RefRow {
    std::string oid;
    bool owned = false;
    rpc::Address owner;  // a borrowed ref's owner
    int local = 0;
    int submitted = 0;
    std::vector<std::string> borrowers;  // sorted
    int contained_in = 0;
    int lent = 0;
    std::vector<std::string> locations;  // the primary copy's node first, then the other copies
  };
  /// (State API, GetObjectRefs.) The references counted here whose id sorts
  /// after `after` (as unsigned bytes), in id order, at most `limit`, into
  /// `out`; returns how many are counted in all. Copied under the mutex.
  size_t Listing(const std::string& after, size_t limit, std::vector<RefRow>* out) const;
  /// How many objects are counted.
  size_t Size() const;
  /// Why this process must not leave as idle: the owned objects still
  /// referenced anywhere and the borrowed ones it holds (empty when none).
  std::string WhyNotExit() const;

 private:
  /// Refs of one object in flight to `caller` ("": one that does not
  /// acknowledge), lent by `lender` ("": this process, or an executor that
  /// did not say).
  struct Lend {
    std::string caller;
    std::string lender;
    int n = 0;
  };
  /// What a ref rarely needs, made on first use (lean refs, docs/ownership.md):
  /// a held put ref has none of it.
  struct Extra {
    rpc::Address owner;                         // a borrowed ref's owner
    std::unordered_set<std::string> borrowers;  // owned: the processes that borrow it
    std::vector<Lend> lent;                     // owned: refs in flight, per (caller, lender)
    std::vector<std::string> contains;          // owned: refs its value holds
    std::vector<std::string> copies;            // owned: other nodes holding a copy
  };
  struct Ref {
    int local = 0;
    int submitted = 0;
    int contained_in = 0;
    bool owned = false;
    bool registered = false;
    std::string in_store_node;
    std::unique_ptr<Extra> extra;
    Extra& More() {
      if (!extra) extra = std::make_unique<Extra>();
      return *extra;
    }
    bool Alive() const {
      return local > 0 || submitted > 0 || contained_in > 0 ||
             (extra && (!extra->borrowers.empty() || !extra->lent.empty()));
    }
  };
  using Actions = std::vector<std::function<void()>>;
  /// A ref's Extra, or an empty one when it has none.
  static const Extra& ExtraOf(const Ref& r);

  struct Holder {
    int records = 0;  // (object, holder) pairs: a borrow or a caller's lend entry
    rpc::Address address;
  };

  void Release(const std::string& oid, Actions& actions);
  /// Releases one ref of the lend at `i` (erased at zero, its holders let go of).
  void Unlend(Ref& r, size_t i);
  void AddLend(Ref& r, const std::string& caller, const rpc::Address* address, const rpc::Address* lender,
               Actions& actions);
  /// The lend an acknowledgement from `caller` of a return from `lender`
  /// releases (its index), or -1.
  static int AckIndex(const Ref& r, const std::string& caller, const std::string& lender);
  /// A lend entry went: its caller and lender hold one record less (but `gone`).
  void UnholdPair(const Lend& l, const std::string& gone);
  void Hold(const std::string& holder, const rpc::Address* address, Actions& actions);
  void Unhold(const std::string& holder);
  static void Run(Actions& actions);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Ref> refs_;
  std::unordered_map<std::string, Holder> holders_;
  Listener listener_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_REFERENCE_COUNTER_H_
