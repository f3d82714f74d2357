// Helpers for turning C++ exceptions into error records (docs/protocol.md §7.6), for the
// worker that runs C++ tasks. Implemented in src/codec/error_record.cc.
//
// Invariants:
//  - Records are serialized deterministically (fields by number), so equal
//    errors give equal bytes in every language.
//  - An exception that came from an error value (a polyray::Error with a
//    record) keeps that record as the cause, so each hop of a chain of calls
//    shows in the final error.
#ifndef POLYRAY_INTERNAL_ERRORS_H_
#define POLYRAY_INTERNAL_ERRORS_H_

#include <exception>
#include <string>
#include <typeinfo>

namespace polyray {
namespace internal {

/// The readable C++ name of a mangled type name (typeid(x).name()); the
/// input itself when it cannot be demangled.
std::string Demangle(const char* mangled);

/// The dynamic type of `e`, demangled ("std::invalid_argument", "my::Error").
std::string DemangledTypeName(const std::exception& e);

/// The serialized polyray.rpc.ErrorRecord for an exception that escaped a
/// C++ task: for a polyray::Error carrying a record (a failed nested call
/// re-thrown), the same kind, type name and message with language CPP, this
/// hop's `traceback` and the original record as the cause (as Java does);
/// for any other exception, MakeCppErrorRecord(DemangledTypeName(e),
/// e.what(), traceback, ""). Call it inside the catch block.
std::string ErrorRecordOfException(const std::exception& e, const std::string& traceback);

/// A RUNTIME_ERROR record (language CPP): the runtime could not run a call
/// (unknown function, bad arguments, a result with no XLANG form).
std::string MakeRuntimeErrorRecord(const std::string& type_name, const std::string& message);

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_INTERNAL_ERRORS_H_
