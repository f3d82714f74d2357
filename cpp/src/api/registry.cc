// The process-wide registry of POLYRAY_REMOTE callables (see
// polyray/internal/registry.h for its rules).
//
// Invariants: entries live in a std::map keyed by name and are never erased,
// so RegisteredEntry pointers handed out stay valid; one mutex guards all.
#include "polyray/internal/registry.h"

#include "polyray/internal/errors.h"

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <set>

namespace polyray {
namespace internal {
namespace {

/// The file that contains `address` (a shared library or the executable).
std::string FileContaining(const void* address) {
  Dl_info info{};
  if (address != nullptr && dladdr(address, &info) != 0 && info.dli_fname != nullptr &&
      info.dli_fname[0] != '\0') {
    return info.dli_fname;
  }
  return "the main program";
}

bool IsSharedLibrary(const std::string& file) {
  const std::string suffix = ".so";
  if (file.find(".so.") != std::string::npos) return true;
  return file.size() > suffix.size() &&
         file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

}  // namespace

struct Registry::State {
  mutable std::mutex mu;
  std::map<std::string, RegisteredEntry> by_name;
  std::map<std::string, std::string> name_by_key;
  std::map<std::string, std::string> key_by_name;
  /// name → every library that registered a different callable under it.
  std::map<std::string, std::vector<std::string>> duplicates;
  /// name → the message about two concurrency groups declared for it.
  std::map<std::string, std::string> group_conflicts;
  std::set<std::string> libraries;
};

Registry::Registry() : state_(new State) {}
Registry::~Registry() = default;

Registry& Registry::Instance() {
  // Never destroyed: static destructors of user libraries may still look up.
  static Registry* registry = new Registry();
  return *registry;
}

void Registry::Add(RegisteredEntry entry, const std::string& key, const void* site) {
  entry.library = FileContaining(site);
  std::lock_guard<std::mutex> lock(state_->mu);
  if (IsSharedLibrary(entry.library)) state_->libraries.insert(entry.library);
  auto existing = state_->by_name.find(entry.name);
  if (existing != state_->by_name.end()) {
    if (state_->key_by_name[entry.name] == key) {  // the same callable again, maybe with a group
      std::string& group = existing->second.concurrency_group;
      if (group.empty()) {
        group = entry.concurrency_group;
      } else if (!entry.concurrency_group.empty() && entry.concurrency_group != group) {
        state_->group_conflicts[entry.name] = entry.name + " is registered in two concurrency groups ('" + group +
                                              "' and '" + entry.concurrency_group + "'); give it one";
      }
      return;
    }
    auto& places = state_->duplicates[entry.name];
    if (places.empty()) places.push_back(existing->second.library);
    places.push_back(entry.library);
    return;
  }
  state_->name_by_key.emplace(key, entry.name);  // keeps the first name of a key
  state_->key_by_name[entry.name] = key;
  std::string name = entry.name;
  state_->by_name.emplace(std::move(name), std::move(entry));
}

const RegisteredEntry* Registry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto dup = state_->duplicates.find(name);
  if (dup != state_->duplicates.end()) {
    std::string where;
    for (const std::string& library : dup->second) {
      where += (where.empty() ? "" : " and ") + library;
    }
    throw InvocationError("the name " + name + " is registered with POLYRAY_REMOTE by " +
                          std::to_string(dup->second.size()) +
                          " different functions (in " + where +
                          "); registered names must be unique in a process");
  }
  auto conflict = state_->group_conflicts.find(name);
  if (conflict != state_->group_conflicts.end()) throw InvocationError(conflict->second);
  auto it = state_->by_name.find(name);
  return it == state_->by_name.end() ? nullptr : &it->second;
}

std::map<std::string, std::string> Registry::MethodGroupsOf(const std::string& factory) const {
  std::map<std::string, std::string> out;
  std::lock_guard<std::mutex> lock(state_->mu);
  auto f = state_->by_name.find(factory);
  if (f == state_->by_name.end() || f->second.kind != EntryKind::kFactory || f->second.class_type == nullptr) {
    return out;
  }
  for (const auto& [name, entry] : state_->by_name) {
    if (entry.kind == EntryKind::kMethod && !entry.concurrency_group.empty() && entry.class_type != nullptr &&
        *entry.class_type == *f->second.class_type) {
      out[name] = entry.concurrency_group;
    }
  }
  return out;
}

const RegisteredEntry* Registry::FindByKey(const std::string& key) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->name_by_key.find(key);
  if (it == state_->name_by_key.end()) return nullptr;
  return &state_->by_name.at(it->second);
}

std::vector<std::string> Registry::Names() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<std::string> names;
  names.reserve(state_->by_name.size());
  for (const auto& [name, entry] : state_->by_name) names.push_back(name);
  return names;
}

std::vector<std::string> Registry::Problems() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<std::string> problems;
  for (const auto& [name, places] : state_->duplicates) {
    std::string where;
    for (const std::string& library : places) where += (where.empty() ? "" : ", ") + library;
    problems.push_back("duplicate POLYRAY_REMOTE name " + name + " (registered in " + where + ")");
  }
  for (const auto& [name, message] : state_->group_conflicts) problems.push_back(message);
  return problems;
}

std::vector<std::string> Registry::Libraries() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return {state_->libraries.begin(), state_->libraries.end()};
}

std::vector<std::string> SplitRemoteNames(const char* stringized) {
  std::vector<std::string> names;
  std::string current;
  int depth = 0;  // inside (), <>, [] or {}
  for (const char* p = stringized; p != nullptr && *p != '\0'; ++p) {
    char c = *p;
    if (c == '(' || c == '<' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == '>' || c == ']' || c == '}') && depth > 0) --depth;
    if (c == ',' && depth == 0) {
      names.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  names.push_back(current);
  for (std::string& name : names) {
    name = Trim(name);
    if (!name.empty() && name[0] == '&') name = Trim(name.substr(1));
  }
  return names;
}

std::string ClassPartOf(const std::string& name) {
  size_t pos = name.rfind("::");
  if (pos == std::string::npos || pos == 0) return "";
  return name.substr(0, pos);
}

std::string TypeName(const std::type_info& type) { return Demangle(type.name()); }

std::string SymbolNameAt(const void* address) {
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_sname == nullptr ||
      info.dli_saddr != address) {
    return "";
  }
  return Demangle(info.dli_sname);
}

}  // namespace internal
}  // namespace polyray
