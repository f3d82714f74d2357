// codec_test_util.h — helpers shared by the codec_*_test.cc and api_*_test.cc
// files: hex in and out, ValueViews of encoded values as a runtime would
// hand them to Decode, and round trips through the codec.
//
// Invariants: every view made here owns (a copy of) the bytes it points
// into through its keepalive, so a view may outlive its argument.
#ifndef POLYRAY_CPP_TESTS_CODEC_TEST_UTIL_H_
#define POLYRAY_CPP_TESTS_CODEC_TEST_UTIL_H_

#include <memory>
#include <string>
#include <string_view>

#include "polyray/codec.h"

namespace polyray::testutil {

/// Lower-case hex of `s`.
inline std::string Hex(std::string_view s) { return internal::ToHex(std::string(s)); }

/// The bytes of a hex string (pairs of digits; a trailing odd digit is ignored).
inline std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

/// A view of `e` (format, body, buffers) that owns a copy of it.
inline internal::ValueView ViewOf(const internal::Encoded& e) {
  auto owned = std::make_shared<internal::Encoded>(e);
  internal::ValueView v;
  v.format = owned->format;
  v.body = owned->body;
  for (const auto& b : owned->buffers) v.buffers.emplace_back(b);
  v.keepalive = owned;
  return v;
}

/// A view of `body` alone, of format `format`, that owns its bytes.
inline internal::ValueView ViewOfBody(std::string body, Format format = Format::kXlang) {
  internal::Encoded e;
  e.format = format;
  e.body = std::move(body);
  return ViewOf(e);
}

/// The hex of `v`'s XLANG body.
template <typename T>
std::string BodyHex(const T& v) {
  return Hex(internal::Encode(v).body);
}

/// `v` encoded (buffers out of band from `threshold` bytes) and decoded again.
template <typename T>
T RoundTrip(const T& v, size_t threshold = internal::kDefaultOobThreshold) {
  return internal::Decode<T>(ViewOf(internal::Encode(v, "value", threshold)), "value");
}

}  // namespace polyray::testutil

#endif  // POLYRAY_CPP_TESTS_CODEC_TEST_UTIL_H_
