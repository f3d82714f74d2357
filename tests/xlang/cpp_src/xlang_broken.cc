// A user library that cannot be loaded: it needs a symbol no library defines,
// so dlopen (RTLD_NOW) fails with "undefined symbol:
// polyray_test_symbol_nobody_defines". The C++ worker must report that on the
// caller's get() instead of hanging or crashing silently.
extern "C" int polyray_test_symbol_nobody_defines(int);

namespace {
struct Init {
  Init() { value = polyray_test_symbol_nobody_defines(1); }
  int value = 0;
};
Init init_at_load;
}  // namespace
