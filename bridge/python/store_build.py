"""cffi build script for the shared-store binding (API, out-of-line mode).

setup.py names it in ``cffi_modules``, so ``pip install .`` and
``pip install -e .`` compile the module with no manual step.

The C library's sources (bridge/src/*.c) are compiled straight into the
extension module ``polyray._store_cffi``, so the Python package has no
separate shared library to find at run time.
"""

from __future__ import annotations

import glob
import os

from cffi import FFI

_HERE = os.path.dirname(os.path.abspath(__file__))
_BRIDGE = os.path.dirname(_HERE)


# The public API of bridge/include/polyray_store.h, as cffi parses it. In API
# mode cffi checks every constant, enum value and struct layout below against
# the real header at compile time, so a drift fails the build.
CDEF = r"""
#define PRS_OBJECT_ID_SIZE ...

typedef enum prs_status {
  PRS_OK = 0,
  PRS_ERR_INVALID = 1,
  PRS_ERR_ID_LENGTH = 2,
  PRS_ERR_NOT_FOUND = 3,
  PRS_ERR_EXISTS = 4,
  PRS_ERR_SEALED = 5,
  PRS_ERR_NOT_SEALED = 6,
  PRS_ERR_FULL = 7,
  PRS_ERR_TIMEOUT = 8,
  PRS_ERR_CLOSED = 9,
  PRS_ERR_NO_SEGMENT = 10,
  PRS_ERR_NO_MEMORY = 11,
  PRS_ERR_TABLE_FULL = 12,
  PRS_ERR_NOT_PINNED = 13,
  PRS_ERR_BAD_SEGMENT = 14,
  PRS_ERR_SYSTEM = 15
} prs_status;

typedef struct prs_store prs_store;

typedef struct prs_view {
  const uint8_t *data;
  uint64_t data_size;
  const uint8_t *metadata;
  uint64_t metadata_size;
  int found;
} prs_view;

typedef struct prs_object_info {
  uint8_t id[28];
  uint64_t data_size;
  uint64_t metadata_size;
  int32_t sealed;
  int32_t creator_pid;
  int64_t pins;
  int32_t delete_pending;
} prs_object_info;

typedef struct prs_stats {
  uint64_t capacity;
  uint64_t bytes_used;
  uint64_t objects;
  uint64_t sealed_objects;
  uint64_t pinned_objects;
  uint64_t evictions;
  uint64_t recoveries;
} prs_stats;

typedef struct prs_reclaim_result {
  uint64_t pins_dropped;
  uint64_t objects_aborted;
  uint64_t bytes_freed;
} prs_reclaim_result;

const char *prs_status_name(int status);
const char *prs_last_error(void);

int prs_store_create(const char *name, uint64_t capacity, prs_store **out);
int prs_store_open(const char *name, prs_store **out);
int prs_store_close(prs_store *store, int drop_pins);
int prs_store_unlink(const char *name);

int prs_create(prs_store *store, const uint8_t *id, uint64_t data_size,
               uint64_t metadata_size, uint8_t **data, uint8_t **metadata);
int prs_seal(prs_store *store, const uint8_t *id);
int prs_abort(prs_store *store, const uint8_t *id);

int prs_get(prs_store *store, const uint8_t *ids, size_t count,
            int64_t timeout_ms, prs_view *views);
int prs_release(prs_store *store, const uint8_t *id);

int prs_contains(prs_store *store, const uint8_t *id, int *out);
int prs_delete(prs_store *store, const uint8_t *id);
int prs_list(prs_store *store, prs_object_info *infos, size_t capacity,
             size_t *count);
int prs_get_stats(prs_store *store, prs_stats *out);
int prs_evict(prs_store *store, uint64_t bytes, uint64_t *freed);
int prs_reclaim(prs_store *store, int32_t pid, prs_reclaim_result *out);

int prs_prefault(prs_store *store, uint64_t offset, uint64_t length,
                 uint64_t *done);

int prs_test_hold_lock(prs_store *store);

/* Binding glue (defined below, not part of the C library). */
int prs_py_put(prs_store *store, const uint8_t *id,
               const uint8_t *data, uint64_t data_size,
               const uint8_t *metadata, uint64_t metadata_size);
"""

# Glue compiled into the module. prs_py_put does create + copy + seal in one
# call: one crossing of the Python/C boundary (and one GIL release, which lets
# other threads run during a large copy) instead of three, and no Python-side
# out-parameters. The copy is a plain memcpy on purpose: prefaulting the
# destination (madvise MADV_POPULATE_WRITE) was measured slower, both on
# fresh pages and on pages used before.
GLUE = r"""
#include <string.h>
#include "polyray_store.h"

static int prs_py_put(prs_store *store, const uint8_t *id,
                      const uint8_t *data, uint64_t data_size,
                      const uint8_t *metadata, uint64_t metadata_size)
{
  uint8_t *d = NULL, *m = NULL;
  int st = prs_create(store, id, data_size, metadata_size, &d, &m);
  if (st != PRS_OK)
    return st;
  if (data_size)
    memcpy(d, data, data_size);
  if (metadata_size)
    memcpy(m, metadata, metadata_size);
  st = prs_seal(store, id);
  if (st != PRS_OK)
    (void)prs_abort(store, id); /* do not leave a half-made object behind */
  return st;
}
"""


def _path(path: str) -> str:
    # setuptools rejects absolute paths and runs this from setup.py's folder:
    # give paths relative to the cwd there, absolute ones anywhere else.
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "polyray._store_cffi",
    GLUE,
    sources=[_path(p) for p in sorted(glob.glob(os.path.join(_BRIDGE, "src", "*.c")))],
    include_dirs=[_path(os.path.join(_BRIDGE, d)) for d in ("include", "src")],
    # The same dialect and feature macros as bridge/CMakeLists.txt.
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=gnu11", "-O2", "-pthread"],
    extra_link_args=["-pthread"],
    libraries=["pthread", "rt"],
)
