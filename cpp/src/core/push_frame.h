// The framing of the push port (docs/protocol.md §7.2, "Push port"), shared
// by its two ends: the worker's PushPort (push_port.h) and the caller's
// PushPortStream (push_port_stream.h). A frame is a 4-byte little-endian
// length n (at most kMaxPushFrame) and n bytes of a serialized message:
// PushTasksRequest from caller to worker, PushTasksReply back.
//
// Invariants: a frame is built whole before any of it is written, so the
// writer of a connection never interleaves two frames; a length above
// kMaxPushFrame is a bad frame on either side.
#ifndef POLYRAY_CORE_PUSH_FRAME_H_
#define POLYRAY_CORE_PUSH_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "polyray/runtime_spec.h"

namespace google::protobuf {
class MessageLite;
}

namespace polyray::core {

/// Bytes of a frame header (the length).
constexpr size_t kPushFrameHeader = 4;
/// The largest frame body either side may send (the runtime spec's
/// kRpcMaxMessageBytes, also the gRPC message limit).
constexpr uint32_t kMaxPushFrame = static_cast<uint32_t>(spec::kRpcMaxMessageBytes);
static_assert(spec::kRpcMaxMessageBytes > 0 && spec::kRpcMaxMessageBytes <= UINT32_MAX,
              "a frame length is a uint32");

/// The length a frame header at `p` (kPushFrameHeader bytes) announces.
uint32_t PushFrameLength(const char* p);

/// Appends one frame of `message` to `out`: its length, then its bytes.
/// The caller checks the size against kMaxPushFrame when it matters.
void AppendPushFrame(const google::protobuf::MessageLite& message, std::string& out);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_PUSH_FRAME_H_
