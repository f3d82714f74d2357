// dlopens the user libraries of the code search path (rules in
// library_loader.h).
//
// Invariants: the handles are deliberately leaked (never dlclose'd): the
// registry and live actor instances point into the libraries' code.
#include "api/library_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "polyray/internal/errors.h"

namespace polyray {
namespace internal {
namespace {

namespace fs = std::filesystem;

bool HasSoSuffix(const std::string& name) {
  return name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0;
}

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

/// dlerror()'s text without the file name it repeats, with an undefined
/// symbol demangled ("undefined symbol: _Z1fi (f(int))").
std::string Reason(const std::string& file, const char* error) {
  std::string why = error != nullptr ? error : "dlopen failed";
  if (why.compare(0, file.size() + 2, file + ": ") == 0) why.erase(0, file.size() + 2);
  const std::string marker = "undefined symbol: ";
  size_t at = why.find(marker);
  if (at != std::string::npos) {
    size_t begin = at + marker.size();
    size_t end = why.find_first_of(" ,(", begin);
    std::string symbol = why.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    std::string readable = Demangle(symbol.c_str());
    if (readable != symbol) why += " (" + readable + ")";
  }
  return why;
}

void LoadOne(const std::string& file, LoadReport* report) {
  dlerror();  // clear
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    report->failed.push_back(file + ": " + Reason(file, dlerror()));
    return;
  }
  report->loaded.push_back(file);
}

}  // namespace

std::string LoadReport::Describe() const {
  std::string out = "code search path: ";
  out += search_path.empty() ? "(empty: set it in Init(Config), polyray.init(code_search_path=...) "
                               "or POLYRAY_CODE_SEARCH_PATH)"
                             : Join(search_path, ":");
  out += "; libraries loaded: " + (loaded.empty() ? std::string("none") : Join(loaded, ", "));
  if (!failed.empty()) out += "; failed to load: " + Join(failed, "; ");
  return out;
}

std::vector<std::string> SplitSearchPath(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(':', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

LoadReport LoadCodeSearchPath(const std::vector<std::string>& entries) {
  LoadReport report;
  report.search_path = entries;
  for (const std::string& entry : entries) {
    std::error_code ec;
    fs::file_status status = fs::status(entry, ec);
    if (ec || !fs::exists(status)) {
      report.failed.push_back(entry + ": no such file or directory");
      continue;
    }
    if (!fs::is_directory(status)) {
      LoadOne(entry, &report);
      continue;
    }
    std::vector<std::string> files;
    for (fs::directory_iterator it(entry, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& path = it->path();
      std::error_code file_ec;
      if (HasSoSuffix(path.filename().string()) && fs::is_regular_file(path, file_ec)) {
        files.push_back(path.string());
      }
    }
    if (ec) {
      report.failed.push_back(entry + ": cannot list the directory: " + ec.message());
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) LoadOne(file, &report);
  }
  return report;
}

}  // namespace internal
}  // namespace polyray
