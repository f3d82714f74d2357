// Constants and small helpers every part of the core uses: timeouts, the
// inline limit, system ErrorRecords and addresses. Conversions between the
// boundary's values (internal::Encoded / ValueView) and protocol Envelopes,
// and deterministic serialization, are the codec's (codec/envelope.h,
// internal::EncodedSize in polyray/codec.h): one implementation for both.
//
// Invariants: values above spec kInlineMaxBytes never travel inline; every
// RPC the core makes has a deadline (kRpcTimeout unless it says why not); a
// ValueView built here keeps the message it views alive through its keepalive.
#ifndef POLYRAY_CORE_COMMON_H_
#define POLYRAY_CORE_COMMON_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "codec/envelope.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {

// The values below are the runtime spec's (proto/runtime/runtime_spec.toml,
// generated into polyray/runtime_spec.h), typed for the core's use. Whether a
// value travels inline is policy::TravelsInline (submit_policy.h).

/// Deadline of control-plane calls (GCS, raylet) and of calls between workers.
inline constexpr std::chrono::seconds kRpcTimeout{spec::kRpcTimeoutS};
/// How long an owner holds a GetObject before answering timed_out.
inline constexpr int64_t kGetObjectWaitMs = spec::kRpcGetObjectWaitMs;
/// How long a read of the local store waits for an object to be sealed.
inline constexpr int64_t kStoreWaitMs = spec::kRpcStoreWaitMs;
/// A granted lease with an empty queue is returned after this long.
inline constexpr std::chrono::milliseconds kLeaseLinger{spec::kLeaseLingerMs};

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
