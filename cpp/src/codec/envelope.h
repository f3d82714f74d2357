// Envelopes as protocol messages (docs/protocol.md §8): Encoded ->
// polyray.rpc.Envelope, Envelope -> ValueView without a copy, and the
// deterministic serialization every protocol message inside a value (ext 1 /
// ext 2 payloads, ERROR bodies) must use (§10.1 rule 8). For src/ only:
// public headers never see protobuf.
//
// Invariants:
//  - ViewOfEnvelope's views point into the Envelope, which the view's
//    keepalive holds (directly, or through the object that owns it).
//  - SerializeDeterministic writes fields by number and map entries sorted,
//    so equal messages give equal bytes in every language.
#ifndef POLYRAY_SRC_CODEC_ENVELOPE_H_
#define POLYRAY_SRC_CODEC_ENVELOPE_H_

#include <memory>
#include <string>

#include <google/protobuf/message_lite.h>

#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray {
namespace internal {

/// `message` serialized deterministically.
std::string SerializeDeterministic(const google::protobuf::MessageLite& message);

/// Fills `out` with a copy of `value`'s format, body and buffers.
void ToEnvelope(const Encoded& value, rpc::Envelope* out);
/// Fills `out` with `value`'s format, body and buffers, moving the bytes.
void ToEnvelope(Encoded&& value, rpc::Envelope* out);

/// A view of `envelope`'s format, body and buffers (no copy); the view's
/// keepalive holds the envelope.
ValueView ViewOfEnvelope(std::shared_ptr<const rpc::Envelope> envelope);
/// A view of `envelope` (no copy) kept alive by `owner`, which must own the
/// envelope (e.g. the TaskSpec or memory-store entry it is a field of).
ValueView ViewOfEnvelope(const rpc::Envelope& envelope, std::shared_ptr<const void> owner);

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_SRC_CODEC_ENVELOPE_H_
