// ParseSpinUs and SpinTime of spin.h.
#include "core/spin.h"

#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

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

}  // namespace polyray::core
