// Errors as values (docs/protocol.md §7.6) on the C++ side:
// C++ exceptions to serialized polyray.rpc.ErrorRecords (MakeCppErrorRecord,
// ErrorRecordOfException) and records back to polyray exceptions
// (ThrowErrorRecord), with their cause chains.
//
// Invariants:
//  - Records are serialized deterministically.
//  - Every exception built here keeps its own serialized record in
//    Error::record(); a TaskException's cause() is built from the record's
//    cause, recursively (at most kMaxCauseDepth hops).
//  - Kinds map to types as in Java: TASK_ERROR -> TaskException, or
//    CrossLanguageException when any hop of the chain is not C++; the system
//    kinds -> their error types; RUNTIME_ERROR (and unknown kinds) ->
//    polyray::Error.
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>

#include "codec/envelope.h"
#include "polyray/exceptions.h"
#include "polyray/internal/errors.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray {
namespace internal {

namespace {

constexpr int kMaxCauseDepth = 32;

const char* LanguageName(rpc::Language l) {
  switch (l) {
    case rpc::PYTHON: return "PYTHON";
    case rpc::JAVA: return "JAVA";
    case rpc::CPP: return "CPP";
    default: return "UNKNOWN";
  }
}

std::string StripTrailing(const std::string& s) {
  size_t end = s.size();
  while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == ' ' || s[end - 1] == '\r' ||
                     s[end - 1] == '\t')) {
    --end;
  }
  return s.substr(0, end);
}

/// Every hop, outermost first: "[LANG] type: message" and its traceback,
/// joined by "Caused by:" (the same text as Java's ErrorRecords.formatChain).
std::string FormatChain(const rpc::ErrorRecord& record) {
  std::string out;
  const rpc::ErrorRecord* r = &record;
  for (int depth = 0; r != nullptr && depth < kMaxCauseDepth; ++depth) {
    if (depth > 0) out += "\n\nCaused by:\n";
    out += std::string("[") + LanguageName(r->language()) + "] " + r->type_name() + ": " +
           r->message();
    const std::string tb = StripTrailing(r->traceback());
    if (!tb.empty()) out += "\n" + tb;
    r = r->has_cause() ? &r->cause() : nullptr;
  }
  return out;
}

bool CrossedLanguages(const rpc::ErrorRecord& record) {
  const rpc::ErrorRecord* r = &record;
  for (int i = 0; r != nullptr && i < 64; ++i) {
    if (r->language() != rpc::CPP) return true;
    r = r->has_cause() ? &r->cause() : nullptr;
  }
  return false;
}

std::string WithCause(const rpc::ErrorRecord& r) {
  return r.has_cause() ? r.message() + "\n\nCaused by:\n" + FormatChain(r.cause()) : r.message();
}

std::shared_ptr<const Error> SharedError(const rpc::ErrorRecord& r, int depth);

/// Builds the exception `r` stands for and hands it to `f` (by value).
template <typename F>
auto BuildError(const rpc::ErrorRecord& r, std::string serialized, int depth, F&& f) {
  switch (r.kind()) {
    case rpc::WORKER_CRASHED: return f(WorkerCrashedError(WithCause(r), std::move(serialized)));
    case rpc::ACTOR_DIED: {
      // Why: the first reason set along the cause chain.
      const rpc::ErrorRecord* why = &r;
      for (int i = 0; why != nullptr && why->reason() == rpc::REASON_UNSPECIFIED; ++i) {
        why = (why->has_cause() && i < 32) ? &why->cause() : nullptr;
      }
      std::string reason = why != nullptr ? rpc::ErrorReason_Name(why->reason()) : std::string();
      std::optional<int> code;
      if (why != nullptr && why->reason() == rpc::REASON_PROCESS_EXITED) code = why->exit_code();
      return f(ActorDiedError(WithCause(r), std::move(serialized), std::move(reason), code));
    }
    case rpc::OBJECT_LOST:
      if (r.reason() == rpc::REASON_OWNER_DIED) {
        return f(OwnerDiedError(WithCause(r), std::move(serialized)));
      }
      {
        // Why: the first reason set along the cause chain.
        const rpc::ErrorRecord* why = &r;
        for (int i = 0; why != nullptr && why->reason() == rpc::REASON_UNSPECIFIED; ++i) {
          why = (why->has_cause() && i < 32) ? &why->cause() : nullptr;
        }
        return f(ObjectLostError(WithCause(r), std::move(serialized),
                                 why != nullptr ? rpc::ErrorReason_Name(why->reason()) : std::string()));
      }
    case rpc::OWNER_DIED: return f(OwnerDiedError(WithCause(r), std::move(serialized)));
    case rpc::GCS_UNAVAILABLE: return f(GcsUnavailableError(WithCause(r), std::move(serialized)));
    case rpc::TASK_CANCELLED: return f(TaskCancelledError(WithCause(r), std::move(serialized)));
    case rpc::NODE_DIED: return f(NodeDiedError(WithCause(r), std::move(serialized)));
    case rpc::OBJECT_STORE_FULL:
      return f(ObjectStoreFullError(WithCause(r), std::move(serialized)));
    case rpc::GET_TIMEOUT: return f(GetTimeoutError(WithCause(r), std::move(serialized)));
    case rpc::TASK_ERROR: break;
    default:  // RUNTIME_ERROR and kinds this build does not know
      return f(Error(std::string("[") + LanguageName(r.language()) + "] " + r.type_name() + ": " +
                         WithCause(r),
                     std::move(serialized)));
  }
  std::shared_ptr<const Error> cause;
  if (r.has_cause() && depth > 1) {
    cause = SharedError(r.cause(), depth - 1);
  }
  const std::string what = std::string("[") + LanguageName(r.language()) + "] " + r.type_name() +
                           ": " + r.message() + "\n\nRemote traceback:\n" + FormatChain(r);
  const auto lang = static_cast<Language>(r.language());
  if (CrossedLanguages(r)) {
    return f(CrossLanguageException(what, std::move(serialized), lang, r.type_name(), r.message(),
                                    r.traceback(), std::move(cause)));
  }
  return f(TaskException(what, std::move(serialized), lang, r.type_name(), r.message(),
                         r.traceback(), std::move(cause)));
}

/// The exception of a cause record, held for TaskException::cause().
std::shared_ptr<const Error> SharedError(const rpc::ErrorRecord& r, int depth) {
  return BuildError(r, SerializeDeterministic(r), depth, [](auto&& e) -> std::shared_ptr<const Error> {
    return std::make_shared<std::decay_t<decltype(e)>>(std::move(e));
  });
}

rpc::ErrorRecord CppRecord(const std::string& type_name, const std::string& what,
                           const std::string& traceback) {
  rpc::ErrorRecord r;
  r.set_kind(rpc::TASK_ERROR);
  r.set_type_name(type_name);
  r.set_message(what);
  r.set_language(rpc::CPP);
  r.set_traceback(traceback);
  return r;
}

}  // namespace

std::string MakeCppErrorRecord(const std::string& type_name, const std::string& what,
                               const std::string& traceback, const std::string& cause_record) {
  rpc::ErrorRecord r = CppRecord(type_name, what, traceback);
  if (!cause_record.empty()) {
    rpc::ErrorRecord cause;
    if (cause.ParseFromString(cause_record)) *r.mutable_cause() = std::move(cause);
  }
  return SerializeDeterministic(r);
}

std::string MakeRuntimeErrorRecord(const std::string& type_name, const std::string& message) {
  rpc::ErrorRecord r;
  r.set_kind(rpc::RUNTIME_ERROR);
  r.set_type_name(type_name);
  r.set_message(message);
  r.set_language(rpc::CPP);
  return SerializeDeterministic(r);
}

std::string ErrorRecordOfException(const std::exception& e, const std::string& traceback) {
  if (const auto* pe = dynamic_cast<const Error*>(&e); pe != nullptr && !pe->record().empty()) {
    rpc::ErrorRecord inner;
    if (inner.ParseFromString(pe->record())) {
      // This hop re-threw a remote error: same kind, type and message, this
      // hop's frames, the original record as the cause.
      rpc::ErrorRecord r;
      r.set_kind(inner.kind());
      r.set_type_name(inner.type_name());
      r.set_message(inner.message());
      r.set_language(rpc::CPP);
      r.set_traceback(traceback);
      *r.mutable_cause() = std::move(inner);
      return SerializeDeterministic(r);
    }
  }
  return MakeCppErrorRecord(DemangledTypeName(e), e.what(), traceback, "");
}

void ThrowErrorRecord(std::string_view record) {
  rpc::ErrorRecord r;
  if (!r.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    throw Error("malformed error record (" + std::to_string(record.size()) +
                " bytes that do not parse as polyray.rpc.ErrorRecord)");
  }
  BuildError(r, std::string(record), kMaxCauseDepth, [](auto&& e) -> int { throw std::move(e); });
  std::abort();  // unreachable: BuildError's callback always throws
}

std::string Demangle(const char* mangled) {
  int status = 0;
  char* out = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return mangled;
  std::string name(out);
  std::free(out);
  return name;
}

std::string DemangledTypeName(const std::exception& e) { return Demangle(typeid(e).name()); }

}  // namespace internal
}  // namespace polyray
