// Protocol IDs (docs/protocol.md §2) as raw byte strings: random parts come
// from the kernel's CSPRNG, job-scoped IDs end with their JobID, and an
// ObjectID is its TaskID followed by a little-endian uint32 index (returns
// 1..n, puts 0x80000000 | n).
//
// Invariants: every function returns a string of the exact protocol length;
// nothing here allocates shared state (all functions are thread-safe).
#ifndef POLYRAY_CORE_IDS_H_
#define POLYRAY_CORE_IDS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "polyray/runtime_spec.h"

namespace polyray::core {

/// Byte lengths of the protocol IDs (the runtime spec's [ids]).
inline constexpr size_t kJobIdSize = spec::kIdsJobBytes;
inline constexpr size_t kActorIdSize = spec::kIdsActorBytes;
inline constexpr size_t kTaskIdSize = spec::kIdsTaskBytes;
inline constexpr size_t kObjectIdBytes = spec::kIdsObjectBytes;
inline constexpr size_t kWorkerIdSize = spec::kIdsWorkerBytes;
/// Bit 31 of an ObjectID's index marks a put object.
inline constexpr uint32_t kPutBit = 0x80000000u;

/// `n` random bytes from the kernel's CSPRNG (getrandom).
std::string RandomBytes(size_t n);
/// A new TaskID of `job_id`: 20 random bytes + JobID.
std::string NewTaskId(const std::string& job_id);
/// A new ActorID of `job_id`: 12 random bytes + JobID.
std::string NewActorId(const std::string& job_id);
/// A new WorkerID: 28 random bytes.
std::string NewWorkerId();
/// TaskID ‖ uint32le(index).
std::string ObjectIdOf(const std::string& task_id, uint32_t index);
/// The i-th return (i from 1) of a task.
inline std::string ReturnId(const std::string& task_id, int i) {
  return ObjectIdOf(task_id, static_cast<uint32_t>(i));
}
/// The n-th put object (n from 1) of a task.
inline std::string PutId(const std::string& task_id, uint32_t n) {
  return ObjectIdOf(task_id, kPutBit | n);
}
/// Lower-case hex of raw bytes.
std::string Hex(const std::string& bytes);
/// The first 12 hex digits (for messages).
std::string ShortHex(const std::string& bytes);
/// Raw bytes of a hex string; throws std::invalid_argument when it is not hex.
std::string FromHex(const std::string& hex);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_IDS_H_
