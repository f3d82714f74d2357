// User code for the api_*_test programs (testlibs/broken/): refers to a
// symbol no library defines, so dlopen(RTLD_NOW) fails and the worker
// reports it in the error of any call it cannot serve.
//
// Invariants: polyray_api_test_missing_symbol is defined nowhere.
#include <polyray/api.h>

/// Defined nowhere.
extern int polyray_api_test_missing_symbol(int x);

/// Calls the missing symbol.
int UsesMissing(int x) { return polyray_api_test_missing_symbol(x); }

POLYRAY_REMOTE(UsesMissing);
