// store_test_util.h — helpers shared by the store_*_test.cc files: unique
// segment names, deterministic object bytes, forked children, and the
// StoreTest fixture.
//
// Invariants:
//   - Every test uses its own segment name (pid + counter + test name) and
//     unlinks it in TearDown, so tests never see each other's objects and
//     leave nothing in /dev/shm.
//   - A forked child never returns into GoogleTest: it runs one function and
//     leaves with _exit(code), 0 meaning every check passed. The parent
//     asserts on that code; the child prints what went wrong to stderr.
//   - Object contents are a deterministic function of a seed, so any process
//     can check bytes written by any other.

#ifndef POLYRAY_CPP_TESTS_STORE_TEST_UTIL_H_
#define POLYRAY_CPP_TESTS_STORE_TEST_UTIL_H_

#include "polyray/store.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "polyray_store.h"

namespace polyray {

// --------------------------------------------------------------- helpers

// gmock is not in Debian's libgtest-dev, so no HasSubstr matcher.
inline ::testing::AssertionResult HasText(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

inline std::string UniqueName(const std::string& tag) {
  static std::atomic<int> counter{0};
  std::string name = "/polyray-cpptest-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++) + "-" + tag;
  // Test names may hold '/' (parameterized tests); the store forbids it.
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] == '/') name[i] = '_';
  }
  return name;
}

inline ObjectId MakeId(uint64_t a, uint64_t b = 0) {
  uint8_t raw[kObjectIdSize] = {};
  std::memcpy(raw, &a, sizeof(a));
  std::memcpy(raw + 8, &b, sizeof(b));
  raw[kObjectIdSize - 1] = 0xa5;  // never all zero
  return ObjectId::FromBinary(raw, sizeof(raw));
}

// xorshift64* stream: cheap, deterministic bytes for a seed.
inline void Fill(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p[i] = static_cast<uint8_t>((x * 0x2545f4914f6cdd1dull) >> 56);
  }
}

inline std::vector<uint8_t> Bytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> v(n);
  Fill(v.data(), n, seed);
  return v;
}

// Index of the first byte that differs from Fill(seed), or -1.
inline long Mismatch(const uint8_t* p, size_t n, uint64_t seed) {
  std::vector<uint8_t> want = Bytes(n, seed);
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != want[i]) return static_cast<long>(i);
  }
  return -1;
}

// A forked child that runs one function and exits with its return value
// (1 on exception). If the test stops early (a failed ASSERT), the child is
// killed and reaped, so no orphan keeps running (or keeps ctest's output
// pipe open).
class Child {
 public:
  explicit Child(const std::function<int()>& fn) {
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int code = 1;
      try {
        code = fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: exception: %s\n", getpid(), e.what());
      } catch (...) {
        std::fprintf(stderr, "child %d: unknown exception\n", getpid());
      }
      std::fflush(nullptr);
      _exit(code);
    }
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  // Wait for the child; how it ended ("exit 0" on success, "signal 9", ...).
  std::string Wait() {
    int status = 0;
    pid_t pid = std::exchange(pid_, -1);
    if (waitpid(pid, &status, 0) != pid) return "waitpid failed: " + std::string(strerror(errno));
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

 private:
  pid_t pid_ = -1;
};

// Run fn on a detached thread and report whether it finished in time, so a
// deadlocked store fails the test with a message instead of hanging it.
inline bool FinishesWithin(std::chrono::milliseconds limit, std::function<void()> fn,
                    std::string* error) {
  auto done = std::make_shared<std::promise<std::string>>();
  std::future<std::string> result = done->get_future();
  std::thread([fn = std::move(fn), done] {
    try {
      fn();
      done->set_value("");
    } catch (const std::exception& e) {
      done->set_value(e.what());
    }
  }).detach();
  if (result.wait_for(limit) != std::future_status::ready) return false;
  *error = result.get();
  return true;
}

// The mapping (from /proc/self/maps) that contains p, or "" when none does.
inline std::string MappingOf(const void* p) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  auto addr = reinterpret_cast<uintptr_t>(p);
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
      return line;
    }
  }
  return "";
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = UniqueName(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    for (const std::string& n : {name_, extra_name_}) {
      if (n.empty()) continue;
      try {
        Store::Unlink(n);
      } catch (const StoreError&) {
        // Tests that never created their segment, or unlinked it already.
      }
    }
  }
  Store Make(uint64_t capacity = 16 << 20) { return Store::Create(name_, capacity); }

  std::string name_;
  std::string extra_name_;
};

}  // namespace polyray

#endif  // POLYRAY_CPP_TESTS_STORE_TEST_UTIL_H_
