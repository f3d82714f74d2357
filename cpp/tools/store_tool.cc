// store_tool.cc — polyray_store_tool: put a file into a node's store as an
// object, or get an object out into a file. Used by cross-language tests and
// for poking at a live store by hand.
//
//   polyray_store_tool put <segment> <hex-object-id> <file>
//   polyray_store_tool get <segment> <hex-object-id> <out-file> [timeout_ms]
//
// Invariants:
//   - Exit code 0 only when the whole object was written (put: sealed in the
//     store; get: every byte in the output file). 1: the operation failed,
//     2: bad usage. Every failure prints one line naming what was wrong.
//   - put never leaves an unsealed object behind: an error while reading the
//     file aborts it (ObjectBuilder's destructor).
//   - Bytes move between the file and shared memory directly, never through
//     an intermediate buffer (except for non-regular input such as a pipe,
//     whose size is unknown until it ends).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "polyray/store.h"

namespace {

const char kUsage[] =
    "usage: polyray_store_tool put <segment> <hex-object-id> <file>\n"
    "       polyray_store_tool get <segment> <hex-object-id> <out-file> [timeout_ms]\n"
    "  put: store the file's bytes as a sealed object (no metadata)\n"
    "  get: write the object's bytes to out-file ('-' for stdout); wait up to\n"
    "       timeout_ms for it to be sealed (default 0: do not wait, -1: forever)\n";

// A failure that is the user's fault in how the tool was called (exit 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string Errno(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

// Closes a file descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Read exactly n bytes, failing if the file ends early (it changed under us).
void ReadExactly(int fd, uint8_t* out, uint64_t n, const std::string& path) {
  uint64_t done = 0;
  while (done < n) {
    ssize_t r = read(fd, out + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(Errno("cannot read", path));
    if (r == 0) {
      throw std::runtime_error("file '" + path + "' shrank while being read (" +
                               std::to_string(done) + " of " + std::to_string(n) + " bytes)");
    }
    done += static_cast<uint64_t>(r);
  }
}

void WriteAll(int fd, const uint8_t* data, uint64_t n, const std::string& path) {
  uint64_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw std::runtime_error(Errno("cannot write", path));
    done += static_cast<uint64_t>(w);
  }
}

int Put(const std::string& segment, const polyray::ObjectId& id, const std::string& path) {
  Fd in{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) throw std::runtime_error(Errno("cannot open", path));
  struct stat st;
  if (fstat(in.fd, &st) != 0) throw std::runtime_error(Errno("cannot stat", path));

  polyray::Store store = polyray::Store::Open(segment);
  if (S_ISREG(st.st_mode)) {
    uint64_t size = static_cast<uint64_t>(st.st_size);
    polyray::ObjectBuilder builder = store.CreateObject(id, size);
    ReadExactly(in.fd, builder.data(), size, path);
    char extra;
    if (read(in.fd, &extra, 1) > 0) {
      throw std::runtime_error("file '" + path + "' grew while being read");
    }
    builder.Seal();
  } else {
    std::vector<uint8_t> bytes;
    uint8_t chunk[1 << 16];
    for (;;) {
      ssize_t r = read(in.fd, chunk, sizeof(chunk));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw std::runtime_error(Errno("cannot read", path));
      if (r == 0) break;
      bytes.insert(bytes.end(), chunk, chunk + r);
    }
    store.Put(id, bytes.data(), bytes.size());
  }
  return 0;
}

int Get(const std::string& segment, const polyray::ObjectId& id, const std::string& path,
        int64_t timeout_ms) {
  polyray::Store store = polyray::Store::Open(segment);
  polyray::ObjectView view = store.GetOne(id, timeout_ms);
  if (path == "-") {
    WriteAll(STDOUT_FILENO, view.data(), view.size(), "<stdout>");
    return 0;
  }
  Fd out{open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (out.fd < 0) throw std::runtime_error(Errno("cannot create", path));
  WriteAll(out.fd, view.data(), view.size(), path);
  // A full disk can surface only at close: check it, or a truncated file
  // would pass for a good one.
  int fd = out.fd;
  out.fd = -1;
  if (close(fd) != 0) throw std::runtime_error(Errno("cannot write", path));
  return 0;
}

int64_t ParseTimeout(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    throw UsageError("timeout_ms must be an integer number of milliseconds, got '" + text + "'");
  }
  return v;
}

polyray::ObjectId ParseId(const std::string& hex) {
  try {
    return polyray::ObjectId::FromHex(hex);
  } catch (const polyray::StoreError& e) {
    throw UsageError(e.what());
  }
}

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string& command = args[0];
  if (command == "put" && args.size() == 4) {
    return Put(args[1], ParseId(args[2]), args[3]);
  }
  if (command == "get" && (args.size() == 4 || args.size() == 5)) {
    int64_t timeout = args.size() == 5 ? ParseTimeout(args[4]) : 0;
    return Get(args[1], ParseId(args[2]), args[3], timeout);
  }
  if (command != "put" && command != "get") {
    throw UsageError("unknown command '" + command + "'");
  }
  throw UsageError("wrong number of arguments for '" + command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "polyray_store_tool: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "polyray_store_tool: error: %s\n", e.what());
    return 1;
  }
}
