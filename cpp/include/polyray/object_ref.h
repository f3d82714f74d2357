// ObjectRef<T>: a reference to a value of type T that a task returned or Put
// stored. Copies share one local reference; the owner frees the object when
// no process references it any more.
#ifndef POLYRAY_OBJECT_REF_H_
#define POLYRAY_OBJECT_REF_H_

#include <string>
#include <utility>

#include "polyray/internal/runtime.h"

namespace polyray {

namespace internal {
/// Lower-case hex of binary bytes (IDs are shown in hex).
inline std::string ToHex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}
}  // namespace internal

/// A reference to a (possibly not yet computed) value of type T.
template <typename T>
class ObjectRef {
 public:
  /// An empty reference (IsNil() is true); assign a real one before use.
  ObjectRef() = default;
  /// Adopts one local reference from the runtime.
  explicit ObjectRef(internal::RefPtr ref) : ref_(std::move(ref)) {}

  /// The object ID in hex (56 digits).
  std::string Id() const { return ref_ ? internal::ToHex(ref_->object_id) : std::string(); }
  /// Whether this reference is empty.
  bool IsNil() const { return ref_ == nullptr; }
  /// The runtime's entry (the protocol's ObjectRef message).
  const internal::RefPtr& entry() const { return ref_; }

  bool operator==(const ObjectRef& o) const {
    return ref_ && o.ref_ ? ref_->object_id == o.ref_->object_id : ref_ == o.ref_;
  }
  bool operator!=(const ObjectRef& o) const { return !(*this == o); }

 private:
  internal::RefPtr ref_;
};

}  // namespace polyray

#endif  // POLYRAY_OBJECT_REF_H_
