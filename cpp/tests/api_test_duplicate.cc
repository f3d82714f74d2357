// User code for the api_*_test programs (testlibs/dup/): registers "Plus1",
// which testlibs/ok/ registers too, so a worker loading both reports the
// duplicate on every call of Plus1.
//
// Invariants: nothing else is registered here.
#include <polyray/api.h>

/// Not the Plus1 of the ok/ library.
int Plus1(int x) { return x + 100; }

POLYRAY_REMOTE(Plus1);
