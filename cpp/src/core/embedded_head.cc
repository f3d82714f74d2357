// EmbeddedHead of embedded_head.h. The child is started with posix_spawn
// (safe in a process that already runs gRPC threads).
//
// Invariants: every EmbeddedHead owns one session folder from mkdtemp;
// Stop() removes it after the child has exited; a Start() that throws
// removes it too unless the head ran and failed, in which case the folder
// (with head.log) stays and the error names it.
//
// Build-time defaults (compile definitions of this file only):
//   POLYRAY_DEFAULT_PYTHON   the repository's .venv/bin/python
//   POLYRAY_REPO_PYTHON_DIR  the repository's python/ folder (prepended to
//                            PYTHONPATH so a checkout's polyray is importable)
#include "core/embedded_head.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "polyray/exceptions.h"

extern char** environ;

namespace polyray::core {
namespace {

#ifdef POLYRAY_DEFAULT_PYTHON
bool IsExecutable(const std::string& path) { return !path.empty() && access(path.c_str(), X_OK) == 0; }
#endif

std::string Tail(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no log)";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max ? s.substr(s.size() - max) : s;
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::string s;
  std::getline(in, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string EmbeddedHead::Python() {
  const char* env = std::getenv("POLYRAY_PYTHON");
  if (env && *env) return env;
#ifdef POLYRAY_DEFAULT_PYTHON
  if (IsExecutable(POLYRAY_DEFAULT_PYTHON)) return POLYRAY_DEFAULT_PYTHON;
#endif
  return "python3";
}

std::vector<std::string> EmbeddedHead::HeadPoolFlags(double idle_worker_timeout_s, const std::string& warm_workers) {
  std::vector<std::string> flags;
  if (std::isnan(idle_worker_timeout_s) || std::isinf(idle_worker_timeout_s)) {
    throw std::invalid_argument("Config.idle_worker_timeout_s must be a finite number of seconds");
  }
  if (idle_worker_timeout_s >= 0) {
    std::ostringstream s;
    s.precision(17);
    s << idle_worker_timeout_s;
    flags.insert(flags.end(), {"--idle-worker-timeout-s", s.str()});
  }
  std::string text = warm_workers;
  text.erase(0, text.find_first_not_of(" \t"));
  text.erase(text.find_last_not_of(" \t") + 1);
  if (text.empty() || text == "auto") return flags;
  // As python/polyray/raylet/config.py parse_warm_workers: "N" or "LANG=N,..." (python, java, cpp).
  auto count = [&](const std::string& n, const std::string& part) {
    bool digits = !n.empty() && n.find_first_not_of("0123456789") == std::string::npos && n.size() < 7;
    if (!digits) {
      throw std::invalid_argument("Config.warm_workers: '" + part + "' must be a non-negative count (\"N\" or " +
                                  "\"java=2,cpp=1\"), got '" + warm_workers + "'");
    }
  };
  if (text.find('=') == std::string::npos) {
    count(text, text);
  } else {
    std::stringstream parts(text);
    std::string part;
    while (std::getline(parts, part, ',')) {
      size_t eq = part.find('=');
      std::string lang = eq == std::string::npos ? "" : part.substr(0, eq);
      lang.erase(0, lang.find_first_not_of(' '));
      lang.erase(lang.find_last_not_of(' ') + 1);
      for (char& c : lang) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lang != "python" && lang != "java" && lang != "cpp" && lang != "c++") {
        throw std::invalid_argument("Config.warm_workers: '" + part +
                                    "' is not LANGUAGE=COUNT (python, java, cpp)");
      }
      std::string n = part.substr(eq + 1);
      n.erase(0, n.find_first_not_of(' '));
      n.erase(n.find_last_not_of(' ') + 1);
      count(n, part);
    }
  }
  flags.insert(flags.end(), {"--warm-workers", text});
  return flags;
}

EmbeddedHead EmbeddedHead::Start(int64_t timeout_ms, const std::vector<std::string>& flags) {
  char dir_template[] = "/tmp/polyray-cpp-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    throw polyray::Error(std::string("cannot create a session directory for the embedded polyray head: ") +
                         std::strerror(errno));
  }
  // Owns the folder from here on: every throw below removes it, but for a
  // head that ran and failed (its log is kept).
  EmbeddedHead head(-1, dir_template);
  std::string address_file = head.session_dir_ + "/gcs_address";
  std::string log = head.log_file();
  std::string python = Python();
  std::vector<std::string> argv = {python, "-m", "polyray.node", "--head", "--port", "0", "--address-file",
                                   address_file, "--parent-pid", std::to_string(getpid()),
                                   "--session-dir", head.session_dir_ + "/logs",
                                   // Standby Python workers serve Python drivers only (issue 19).
                                   "--no-prestart-standby"};
  argv.insert(argv.end(), flags.begin(), flags.end());

  std::vector<std::string> env;
  std::string pythonpath;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "PYTHONPATH=", 11) == 0) {
      pythonpath = *e + 11;
    } else {
      env.emplace_back(*e);
    }
  }
#ifdef POLYRAY_REPO_PYTHON_DIR
  {
    struct stat st;
    std::string dir = POLYRAY_REPO_PYTHON_DIR;
    if (stat((dir + "/polyray").c_str(), &st) == 0) pythonpath = pythonpath.empty() ? dir : dir + ":" + pythonpath;
  }
#endif
  if (!pythonpath.empty()) env.push_back("PYTHONPATH=" + pythonpath);

  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, python.c_str(), &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw polyray::Error("cannot start the embedded polyray head with " + python + " (" + std::strerror(rc) +
                         "): set POLYRAY_PYTHON to a Python with polyray installed");
  }
  head.pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string exit_info = "still running";
  while (std::chrono::steady_clock::now() < deadline) {
    std::string addr = ReadTrimmed(address_file);
    if (!addr.empty()) {
      head.address_ = addr;
      return head;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      head.pid_ = -1;
      exit_info = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                    : "killed by signal " + std::to_string(WTERMSIG(status));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  head.StopProcess();
  head.session_dir_.clear();  // kept for its log
  std::string cmd;
  for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  throw polyray::Error("the embedded polyray head did not start within " + std::to_string(timeout_ms / 1000) +
                       " s (" + exit_info + "; command: " + cmd + "); its log is kept at " + log + ":\n" +
                       Tail(log, 3000) + "\n(set POLYRAY_PYTHON to a Python with polyray installed)");
}

EmbeddedHead::EmbeddedHead(EmbeddedHead&& other) noexcept
    : pid_(other.pid_), address_(std::move(other.address_)), session_dir_(std::move(other.session_dir_)) {
  other.pid_ = -1;
  other.session_dir_.clear();
}

EmbeddedHead& EmbeddedHead::operator=(EmbeddedHead&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = other.pid_;
    address_ = std::move(other.address_);
    session_dir_ = std::move(other.session_dir_);
    other.pid_ = -1;
    other.session_dir_.clear();
  }
  return *this;
}

EmbeddedHead::~EmbeddedHead() { Stop(); }

void EmbeddedHead::Stop() {
  StopProcess();
  if (session_dir_.empty()) return;
  std::error_code ignored;  // best effort: a destructor must not throw
  std::filesystem::remove_all(session_dir_, ignored);
  session_dir_.clear();
}

void EmbeddedHead::StopProcess() {
  if (pid_ <= 0) return;
  pid_t pid = pid_;
  pid_ = -1;
  kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
}

}  // namespace polyray::core
