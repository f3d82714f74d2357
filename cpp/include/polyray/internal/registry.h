// The registry of C++ remote functions: one per process, inside libpolyray,
// so the static initializers of every user library (linked into a driver or
// dlopened by polyray_cpp_worker) register into the same table.
//
// Invariants:
//  - A name maps to one entry. Registering the same callable again under the
//    same name (a header with POLYRAY_REMOTE included twice) is a no-op; a
//    different callable under a taken name is a duplicate: the first entry is
//    kept, the name is marked, and Find() reports both libraries.
//  - A key (the bytes of a function or member pointer, with its type) maps
//    to the first name it was registered under; callers use it to find the
//    name of `f` in Task(f).
//  - The same member registered again with a concurrency group
//    (POLYRAY_REMOTE and POLYRAY_REMOTE_IN_GROUP of one method) takes the
//    group; two different groups for one method make Find() throw, naming both.
//  - Entries are never removed (libraries are never unloaded), so pointers
//    returned by Find*/ stay valid for the life of the process.
//  - All members are thread-safe.
#ifndef POLYRAY_INTERNAL_REGISTRY_H_
#define POLYRAY_INTERNAL_REGISTRY_H_

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"

namespace polyray {
namespace internal {

/// What a registered callable is.
enum class EntryKind {
  kFunction,  ///< a free function, run as a task
  kFactory,   ///< a function returning Class*, run to create an actor
  kMethod,    ///< a member function, run on an actor's instance
  kActorFunction,  ///< a free function taking `Class&` first, run with an actor (__polyray_call__)
};

/// The runtime could not run a call: wrong argument count, an argument that
/// does not decode into the parameter type, a result with no XLANG form.
/// The worker reports it as a RUNTIME_ERROR (not as the user's exception).
class InvocationError : public TypeError {
 public:
  explicit InvocationError(const std::string& message) : TypeError(message) {}
};

/// One registered callable with everything the worker needs to run it.
struct RegisteredEntry {
  EntryKind kind = EntryKind::kFunction;
  /// The stable name: as written for functions and factories ("Plus1",
  /// "Counter::Create"), "Class::Method" for members.
  std::string name;
  /// Factories and methods: the class name sent in descriptors.
  std::string class_name;
  /// Factories and methods: the C++ class of the actor's instance.
  const std::type_info* class_type = nullptr;
  /// Number of parameters (an actor function's: besides the actor).
  size_t arity = 0;
  /// kMethod: the concurrency group its calls run in when the call names
  /// none (POLYRAY_REMOTE_IN_GROUP), else empty.
  std::string concurrency_group;
  /// The file (shared library or executable) that registered it.
  std::string library;
  /// kFunction / kMethod: checks the count, decodes the arguments, calls
  /// (on `self` for methods, ignored otherwise) and encodes the result.
  /// Throws InvocationError for bad arguments; the callee's exceptions pass.
  std::function<Encoded(void* self, const std::vector<ValueView>& args)> invoke;
  /// Generators (first parameter polyray::Yield<T>&, yield.h), else empty:
  /// decodes the other arguments, calls with a Yield that sends each item
  /// through `sink`, and returns the encoded item count.
  std::function<Encoded(void* self, const std::vector<ValueView>& args, const ItemSink& sink)> generate;
  /// kFactory: decodes the arguments and creates the instance, owned by the
  /// returned pointer (its deleter deletes it as the right class).
  std::function<std::shared_ptr<void>(const std::vector<ValueView>& args)> create;
};

/// The identity of a callable: its pointer type and bytes.
template <typename F>
std::string CallableKey(F f) {
  std::string key(typeid(F).name());
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(&f), sizeof(F));
  return key;
}

/// The process-wide registry (see the file comment).
class Registry {
 public:
  /// The registry of this process.
  static Registry& Instance();

  /// Adds an entry; `key` is CallableKey(f); `site` is an address inside the
  /// registering file (used to name the library). Never throws for a
  /// duplicate: it is recorded and reported by Find().
  void Add(RegisteredEntry entry, const std::string& key, const void* site);

  /// The entry of `name`, or null. Throws InvocationError when the name was
  /// registered by two different callables (naming both libraries).
  const RegisteredEntry* Find(const std::string& name) const;
  /// The entry registered for `key`, or null.
  const RegisteredEntry* FindByKey(const std::string& key) const;
  /// The methods of the class `factory` creates that declare a concurrency
  /// group (POLYRAY_REMOTE_IN_GROUP): registered name -> group; empty when
  /// none declares one or `factory` is not a registered factory.
  std::map<std::string, std::string> MethodGroupsOf(const std::string& factory) const;
  /// Every registered name, sorted.
  std::vector<std::string> Names() const;
  /// One message per duplicate registration seen so far.
  std::vector<std::string> Problems() const;
  /// The shared libraries (not the main executable) that registered entries.
  std::vector<std::string> Libraries() const;

  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

 private:
  Registry();
  ~Registry();
  struct State;
  std::unique_ptr<State> state_;
};

/// Splits the stringized argument list of POLYRAY_REMOTE into the names of
/// its callables: top-level commas only, whitespace trimmed, a leading '&'
/// removed ("&Counter::Add" → "Counter::Add").
std::vector<std::string> SplitRemoteNames(const char* stringized);

/// The class part of a qualified name ("ns::Counter::Add" → "ns::Counter"),
/// or empty when the name has no "::".
std::string ClassPartOf(const std::string& name);

/// A readable name of a C++ type (demangled).
std::string TypeName(const std::type_info& type);

/// The name of the function at `address` from the dynamic symbol table
/// (demangled), or empty; used in errors about unregistered callables.
std::string SymbolNameAt(const void* address);

/// The entry registered for callable `f` (a function or member pointer);
/// throws polyray::Error when `f` was not registered with POLYRAY_REMOTE in
/// this process, or when its name is a duplicate. `use` names the API call
/// in the message ("Task(f)").
template <typename F>
const RegisteredEntry& RegisteredEntryOf(F f, const char* use) {
  const RegisteredEntry* entry = Registry::Instance().FindByKey(CallableKey(f));
  if (entry == nullptr) {
    std::string what;
    if constexpr (std::is_pointer_v<F>) {
      what = SymbolNameAt(reinterpret_cast<const void*>(f));
    }
    throw Error(std::string(use) + ": the " + (what.empty() ? "callable" : "function " + what) +
                " is not registered; add POLYRAY_REMOTE(...) for it in this program (or call it by "
                "name with CppFunction / CppActorClass / CppActorMethod)");
  }
  try {
    Registry::Instance().Find(entry->name);  // throws for a duplicate name
  } catch (const TypeError& e) {
    throw Error(std::string(use) + ": " + e.what());
  }
  return *entry;
}

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_INTERNAL_REGISTRY_H_
