"""Runtime environments: code, packages and variables a job's workers run with.

A runtime env is a dict with the keys ``working_dir``, ``py_modules``,
``java_jars``, ``cpp_libs``, ``env_vars`` and ``pip`` (docs/jobs.md,
"Runtime environments"). Where it enters (``init()``, ``.options()``, job
submission) it is checked (:mod:`.validation`), its local folders and files
are zipped and uploaded once to the GCS under a content hash
(:mod:`.packaging`), and it is merged over the job's (:mod:`.merge`). It
travels in each TaskSpec as canonical JSON; the raylet prepares it on the node
before a worker starts (:mod:`.agent`, :mod:`.pip_env`) and pools workers per
runtime env.
"""

from polyray.runtime_env.merge import ENV_VAR, canonical_json, env_hash, from_json, merge
from polyray.runtime_env.packaging import (
    MAX_PACKAGE_BYTES_ENV,
    PackageTooLarge,
    is_uri,
    package_uri,
    upload_packages,
    zip_package,
)
from polyray.runtime_env.validation import KNOWN_KEYS, validate

__all__ = [
    "ENV_VAR", "KNOWN_KEYS", "MAX_PACKAGE_BYTES_ENV", "PackageTooLarge", "canonical_json", "env_hash",
    "from_json", "is_uri", "merge", "package_uri", "upload_packages", "validate", "zip_package",
]
