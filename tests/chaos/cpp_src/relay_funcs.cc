// A C++ task that hands the refs it is given back inside its return value,
// lending them to its caller (tests/chaos/test_lender_death.py).
#include <polyray/api.h>

#include <string>
#include <vector>

std::vector<polyray::ObjectRef<std::string>> LenderRelay(std::vector<polyray::ObjectRef<std::string>> refs) {
  return refs;
}

POLYRAY_REMOTE(LenderRelay);
