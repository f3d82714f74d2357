// Constants and small helpers every part of the core uses: timeouts, the
// inline limit, system ErrorRecords and addresses. Conversions between the
// boundary's values (internal::Encoded / ValueView) and protocol Envelopes,
// and deterministic serialization, are the codec's (codec/envelope.h,
// internal::EncodedSize in polyray/codec.h): one implementation for both.
//
// Invariants: values above kInlineMax bytes never travel inline; every RPC
// the core makes uses one of the deadlines below; a ValueView built here
// keeps the message it views alive through its keepalive.
#ifndef POLYRAY_CORE_COMMON_H_
#define POLYRAY_CORE_COMMON_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "codec/envelope.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// Values up to this many bytes (body + buffers) travel inline.
inline constexpr uint64_t kInlineMax = 100 * 1024;
/// Deadline of control-plane calls (GCS, raylet).
inline constexpr std::chrono::seconds kRpcTimeout{30};
/// How long an owner holds a GetObject before answering timed_out.
inline constexpr int64_t kGetObjectWaitMs = 30'000;
/// How long a read of the local store waits for an object to be sealed.
inline constexpr int64_t kStoreWaitMs = 10'000;
/// A granted lease with an empty queue is returned after this long.
inline constexpr int64_t kLeaseLingerMs = 500;

/// A deadline `d` from now, for grpc::ClientContext::set_deadline.
inline std::chrono::system_clock::time_point DeadlineIn(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

/// A record of a system failure detected by this process (language CPP,
/// type polyray::<Kind>Error).
rpc::ErrorRecord SystemError(rpc::ErrorKind kind, const std::string& message);
/// An ERROR envelope holding `record` (deterministic serialization).
rpc::Envelope ErrorEnvelope(const rpc::ErrorRecord& record);
/// "host:port" of an address.
std::string Target(const rpc::Address& address);
/// Whether `address` names the same worker as `worker_id`.
inline bool IsWorker(const rpc::Address& address, const std::string& worker_id) {
  return address.worker_id() == worker_id;
}

}  // namespace polyray::core

#endif  // POLYRAY_CORE_COMMON_H_
