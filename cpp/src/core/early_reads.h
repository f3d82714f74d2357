// Early reads of borrowed values (issue 14; docs/ownership.md, "Early
// reads"), as the Python getter: a Get of kMinRefs or more borrowed objects
// not known here, once their GetObjects calls are sent, copies the plain
// values this node's store holds for them while the owners are asked. A copy
// is returned only for an object whose owner then answers "stored" (the
// object exists and is not lost; a copy in the store is its value, objects
// never change); for any other answer (an error, lost, a dead owner) the
// copies are dropped and the answer decides as before.
//
// Plain, in C++: an XLANG value with no out-of-band buffers (its msgpack body
// is copied; zero-copy ndarray buffers keep being read after the answer as
// views of the store). The getter decodes nothing: refs inside a value are
// deserialized by the caller's Get<T>, after the answer, as before.
//
// Before early reads, a Get reads locally (ObjectGetter::ReadLocal; the
// decision LocalRead here, the owners known dead in owner_watch.h): a
// registered borrow of an owner not known dead, sealed here, is returned
// without asking the owner; only the rest is asked and copied early.
//
// Invariants: a store pin is held only while its value is copied; a copy is
// taken at most once (a ref listed twice gets a second, separate read after
// the answer); a copy keeps the owner's answer (entry) alive with its bytes.
// Not thread-safe (one per Get).
#ifndef POLYRAY_CORE_EARLY_READS_H_
#define POLYRAY_CORE_EARLY_READS_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/memory_store.h"
#include "polyray/internal/runtime.h"

namespace polyray::core {

/// The early copies of one Get; see the file comment.
class EarlyReads {
 public:
  /// A Get of at least this many distinct borrowed ids not known here reads early (Python's EARLY_READ_MIN).
  static constexpr size_t kMinRefs = 8;
  /// Store reads per call (one store call per this many ids).
  static constexpr size_t kBatch = 256;
  /// Pinned views of `ids` in this node's store, in order (nullopt: not
  /// sealed there now; no wait). May throw: the copies made so far are kept.
  using Reader = std::function<std::vector<std::optional<internal::ValueView>>(const std::vector<std::string>& ids)>;

  /// Local reads (docs/ownership.md, "Local reads"): whether a borrowed
  /// object not known here is read from this node's store without asking its
  /// owner: its borrow is registered and its owner not known dead (the copy
  /// must also be sealed here now).
  static bool LocalRead(bool borrow_registered, bool owner_known_dead) {
    return borrow_registered && !owner_known_dead;
  }
  /// False when $POLYRAY_LOCAL_READS is "0" (every borrowed Get waits for the owner; read per Get).
  static bool LocalReadsEnabled();
  /// Whether a Get with `borrowed_missing` distinct borrowed ids not known here reads early.
  static bool Wanted(size_t borrowed_missing) { return borrowed_missing >= kMinRefs; }
  /// A private copy of `v` (its bytes owned by the copy, no store pin) when
  /// it is plain (XLANG, no out-of-band buffers); else nullopt.
  static std::optional<internal::ValueView> CopyPlain(const internal::ValueView& v);
  /// Whether the owner's answer `e` says the object is stored (not inline,
  /// not an error, a borrowed object's entry with a node holding it).
  static bool AnsweredStored(const EntryPtr& e);

  /// Reads `ids` through `read` (kBatch at a time) and keeps a copy of each
  /// plain value found; each view's pin is released once copied. Returns the
  /// number of copies kept. A reader that throws ends the reading (the
  /// values are read after the answers instead).
  size_t Read(const std::vector<std::string>& ids, const Reader& read);
  /// The copy of `oid` when the owner's answer `e` is "stored" (taken: a
  /// second call gives nullopt); its keepalive also holds `e`. Else nullopt.
  std::optional<internal::ValueView> Take(const std::string& oid, const EntryPtr& e);
  /// Copies kept and not taken.
  size_t size() const { return copies_.size(); }

 private:
  std::unordered_map<std::string, internal::ValueView> copies_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_EARLY_READS_H_
