// Errors of the C++ SDK (docs/protocol.md §7.6). Every error a remote task or the runtime
// produces is a polyray::Error carrying the serialized polyray.rpc.ErrorRecord
// it came from, so a C++ task that lets it escape passes it on as the cause of
// its own error and a chain of calls keeps every hop.
#ifndef POLYRAY_EXCEPTIONS_H_
#define POLYRAY_EXCEPTIONS_H_

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "polyray/internal/runtime.h"

namespace polyray {

/// Base of every polyray error. `record()` is the serialized ErrorRecord
/// (empty for errors raised locally, e.g. a bad argument to an API call).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string record = {})
      : std::runtime_error(message), record_(std::move(record)) {}
  /// The serialized polyray.rpc.ErrorRecord, or empty.
  const std::string& record() const noexcept { return record_; }

 private:
  std::string record_;
};

/// A remote task failed: its code threw, or the runtime could not run it
/// (unknown function, bad arguments). what() is the full display text.
class TaskException : public Error {
 public:
  TaskException(const std::string& what, std::string record, Language language,
                std::string type_name, std::string message, std::string remote_traceback,
                std::shared_ptr<const Error> cause)
      : Error(what, std::move(record)),
        language_(language),
        type_name_(std::move(type_name)),
        message_(std::move(message)),
        remote_traceback_(std::move(remote_traceback)),
        cause_(std::move(cause)) {}
  /// The language that raised the error.
  Language language() const noexcept { return language_; }
  /// The exception's type in that language (`ZeroDivisionError`,
  /// `java.lang.IllegalStateException`, `std::invalid_argument`).
  const std::string& type_name() const noexcept { return type_name_; }
  /// The exception's own message, without type or traceback.
  const std::string& message() const noexcept { return message_; }
  /// The traceback in the raising language's style (may be empty).
  const std::string& remote_traceback() const noexcept { return remote_traceback_; }
  /// The previous hop's error, or null.
  const std::shared_ptr<const Error>& cause() const noexcept { return cause_; }

 private:
  Language language_;
  std::string type_name_;
  std::string message_;
  std::string remote_traceback_;
  std::shared_ptr<const Error> cause_;
};

/// A TaskException raised in another language (Python or Java).
class CrossLanguageException : public TaskException {
 public:
  using TaskException::TaskException;
};

/// System failures (docs/protocol.md §7.6): the same names in every language.
#define POLYRAY_DEFINE_SYSTEM_ERROR(Name)                                \
  class Name : public Error {                                            \
   public:                                                               \
    explicit Name(const std::string& message, std::string record = {})   \
        : Error(message, std::move(record)) {}                           \
  };
POLYRAY_DEFINE_SYSTEM_ERROR(WorkerCrashedError)
POLYRAY_DEFINE_SYSTEM_ERROR(GetTimeoutError)
POLYRAY_DEFINE_SYSTEM_ERROR(TaskCancelledError)
POLYRAY_DEFINE_SYSTEM_ERROR(NodeDiedError)
POLYRAY_DEFINE_SYSTEM_ERROR(ObjectStoreFullError)
POLYRAY_DEFINE_SYSTEM_ERROR(GcsUnavailableError)
#undef POLYRAY_DEFINE_SYSTEM_ERROR

/// The actor is dead: its creation failed, it was killed, or its process
/// died beyond its restarts. reason() says why, as the protocol's ErrorReason
/// name ("REASON_PROCESS_EXITED" with exit_code(), negative for a signal;
/// "REASON_NODE_DIED", "REASON_OWNER_DIED", "REASON_KILLED",
/// "REASON_CREATION_FAILED"); empty when unknown.
class ActorDiedError : public Error {
 public:
  explicit ActorDiedError(const std::string& message, std::string record = {}, std::string reason = {},
                          std::optional<int> exit_code = std::nullopt)
      : Error(message, std::move(record)), reason_(std::move(reason)), exit_code_(exit_code) {}
  /// Why the actor died (an ErrorReason name), or empty.
  const std::string& reason() const noexcept { return reason_; }
  /// The exit code of its process with REASON_PROCESS_EXITED (negative: the signal).
  std::optional<int> exit_code() const noexcept { return exit_code_; }

 private:
  std::string reason_;
  std::optional<int> exit_code_;
};

/// An object can no longer be read: its owner died or freed it, or every
/// copy was lost and it could not be recomputed.
class ObjectLostError : public Error {
 public:
  explicit ObjectLostError(const std::string& message, std::string record = {}, std::string reason = {})
      : Error(message, std::move(record)), reason_(std::move(reason)) {}
  /// Why (an ErrorReason name): REASON_PUT (made by Put: no lineage),
  /// REASON_RETRIES_EXHAUSTED (its task's max_retries are used up or the
  /// re-run failed), REASON_LINEAGE_EVICTED (its lineage was dropped to keep
  /// the bound), REASON_OWNER_DIED; empty when none is known.
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

/// The process that owned an object (its creator by Put or by calling the
/// task) died, so the object is gone. An ObjectLostError, as in Ray.
class OwnerDiedError : public ObjectLostError {
 public:
  explicit OwnerDiedError(const std::string& message, std::string record = {})
      : ObjectLostError(message, std::move(record), "REASON_OWNER_DIED") {}
};

/// A value cannot be converted: it has no XLANG form, or a received value
/// does not fit the requested C++ type. The message names the place inside
/// the value (`argument 1[2]["k"]`), the type found and the type expected.
class TypeError : public Error {
 public:
  explicit TypeError(const std::string& message) : Error(message) {}
};

}  // namespace polyray

#endif  // POLYRAY_EXCEPTIONS_H_
