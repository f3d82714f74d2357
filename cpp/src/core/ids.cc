// Protocol IDs; see ids.h. Random bytes come from getrandom(2), which never
// returns fewer bytes than asked for requests this small once the pool is ready.
#include "core/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "polyray/object_ref.h"  // internal::ToHex

namespace polyray::core {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

std::string NewTaskId(const std::string& job_id) { return RandomBytes(kTaskIdSize - kJobIdSize) + job_id; }

std::string NewActorId(const std::string& job_id) { return RandomBytes(kActorIdSize - kJobIdSize) + job_id; }

std::string NewWorkerId() { return RandomBytes(kWorkerIdSize); }

std::string ObjectIdOf(const std::string& task_id, uint32_t index) {
  std::string out = task_id;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((index >> (8 * i)) & 0xff));
  return out;
}

std::string Hex(const std::string& bytes) { return internal::ToHex(bytes); }

std::string ShortHex(const std::string& bytes) { return Hex(bytes).substr(0, 12); }

std::string FromHex(const std::string& hex) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("not a hex string: \"" + hex + "\"");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd-length hex string: \"" + hex + "\"");
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  }
  return out;
}

}  // namespace polyray::core
