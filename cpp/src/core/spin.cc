// ParseSpinUs and SpinTime of spin.h.
#include "core/spin.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>

#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

constexpr const char* kSpinVar = "POLYRAY_SPIN_US";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

int64_t ParseSpinUs(const char* raw) {
  if (raw == nullptr || *raw == '\0') return kDefaultSpinUs;
  const std::string value(raw);
  const auto not_a_number = [&value] {
    return std::invalid_argument(std::string(kSpinVar) + " must be a whole number of microseconds, not '" + value +
                                 "'");
  };
  // Surrounding blanks are allowed (as the Python and Java workers do), then
  // an optional sign and decimal digits only.
  size_t b = 0;
  size_t e = value.size();
  while (b < e && IsSpace(value[b])) ++b;
  while (e > b && IsSpace(value[e - 1])) --e;
  bool negative = false;
  if (b < e && (value[b] == '+' || value[b] == '-')) {
    negative = value[b] == '-';
    ++b;
  }
  if (b == e) throw not_a_number();
  // Microseconds that still fit in int64 nanoseconds.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1000;
  int64_t us = 0;
  bool too_large = false;
  for (size_t i = b; i < e; ++i) {
    char c = value[i];
    if (c < '0' || c > '9') throw not_a_number();
    if (us > (kMax - (c - '0')) / 10) {
      too_large = true;  // keep checking the rest is digits
    } else if (!too_large) {
      us = us * 10 + (c - '0');
    }
  }
  if (negative && (us != 0 || too_large)) {
    throw std::invalid_argument(std::string(kSpinVar) + " must not be negative, got " + value);
  }
  if (too_large) {
    throw std::invalid_argument(std::string(kSpinVar) + " is too large: " + value + " microseconds");
  }
  return us;
}

std::chrono::nanoseconds SpinTime() {
  // A function-local static: parsed once, thread-safe; a throwing parse
  // leaves it unset, so every call reports the same error.
  static const std::chrono::nanoseconds spin =
      std::chrono::microseconds(ParseSpinUs(std::getenv(kSpinVar)));
  return spin;
}

int64_t SpinBudgetUs(int64_t cap_us, int64_t runnable, int64_t cores, const std::vector<int64_t>& waits_us) {
  if (cap_us <= 0 || runnable - 1 >= cores) return 0;
  const auto n = static_cast<int64_t>(waits_us.size());
  if (n >= spec::kSpinMinSamples) {
    int64_t within = 0;
    for (int64_t w : waits_us) within += w <= cap_us ? 1 : 0;
    if (static_cast<double>(within) < spec::kSpinHitMinRatio * static_cast<double>(n)) return 0;
  }
  return cap_us;
}

int64_t ReadRunnable() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c, rt;
  if (!(f >> a >> b >> c >> rt)) return 0;
  try {
    return std::stoll(rt.substr(0, rt.find('/')));
  } catch (const std::exception&) {
    return 0;
  }
}

SpinGate::SpinGate(int64_t cap_us, std::function<int64_t()> runnable, int64_t cores,
                   std::function<int64_t()> clock_ns, std::string folder, bool fixed)
    : cap_us_(cap_us),
      runnable_(std::move(runnable)),
      cores_(cores),
      clock_ns_(std::move(clock_ns)),
      folder_(std::move(folder)),
      fixed_(fixed) {}

std::chrono::nanoseconds SpinGate::Budget() {
  if (cap_us_ <= 0) return std::chrono::nanoseconds(0);
  if (fixed_) return std::chrono::microseconds(cap_us_);
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = clock_ns_();
  if (!load_known_ || now - load_at_ >= spec::kSpinLoadSampleMs * 1000000LL) {
    load_ = runnable_();
    load_at_ = now;
    load_known_ = true;
  }
  return std::chrono::microseconds(SpinBudgetUs(cap_us_, load_, cores_, waits_));
}

void SpinGate::Record(std::chrono::nanoseconds wait) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t us = wait.count() / 1000;
  if (waits_.size() < static_cast<size_t>(spec::kSpinHistory)) {
    waits_.push_back(us);
  } else {
    waits_[next_] = us;
    next_ = (next_ + 1) % waits_.size();
  }
}

bool SpinGate::Acquire() {
  if (fixed_) return true;
  std::lock_guard<std::mutex> lock(mu_);
  if (holders_ > 0) {
    ++holders_;
    return true;
  }
  if (!opened_) {
    opened_ = true;
    ::mkdir(folder_.c_str(), 0700);
    for (int64_t i = 0; i < cores_; ++i) {
      std::string path = folder_ + "/token-" + std::to_string(i);
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd >= 0) fds_.push_back(fd);
    }
  }
  for (int fd : fds_) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &fl) == 0) {
      held_ = fd;
      holders_ = 1;
      return true;
    }
  }
  return false;
}

void SpinGate::Release() {
  if (fixed_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (--holders_ == 0 && held_ >= 0) {
    struct flock fl {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    ::fcntl(held_, F_SETLK, &fl);
    held_ = -1;
  }
}

SpinGate& SpinGate::Process() {
  static SpinGate* gate = [] {
    int64_t cap = 0;
    try {
      cap = SpinTime().count() / 1000;
    } catch (const std::exception&) {
      cap = 0;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    int64_t cores = ::sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    if (cores <= 0) cores = std::max(1u, std::thread::hardware_concurrency());
    const char* adaptive = std::getenv("POLYRAY_SPIN_ADAPTIVE");
    bool fixed = adaptive != nullptr && std::string(adaptive) == "0";
    return new SpinGate(
        cap, ReadRunnable, cores,
        [] {
          return std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
              .count();
        },
        "/tmp/polyray-spin-" + std::to_string(::getuid()), fixed);
  }();
  return *gate;
}

}  // namespace polyray::core
