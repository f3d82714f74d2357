// Bytes on a socket, by hand, for the tests that speak the push port without
// the code under test (core_push_port_test, core_push_port_stream_test): the
// frame header is spelled out here so a wrong byte order in push_frame.h
// cannot cancel itself out.
#ifndef POLYRAY_TESTS_SOCKET_BYTES_H_
#define POLYRAY_TESTS_SOCKET_BYTES_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace polyray::socket_bytes {

/// Writes all of `data` to `fd`; false when the peer is gone.
inline bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t k = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (k <= 0) return false;
    off += static_cast<size_t>(k);
  }
  return true;
}

/// `n` as 4 little-endian bytes (a frame header).
inline std::string LittleEndian32(uint32_t n) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

}  // namespace polyray::socket_bytes

#endif  // POLYRAY_TESTS_SOCKET_BYTES_H_
