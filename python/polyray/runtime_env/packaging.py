"""Local folders and files as content-addressed packages stored in the GCS.

A folder is zipped deterministically (sorted entries, fixed timestamps and
modes, ``__pycache__`` and ``.git`` left out), so the same content always
gives the same bytes and the same name, ``gcs://polyray_pkg_<sha256>.zip``.
A package is stored once in the GCS KV (namespace :data:`KV_NAMESPACE`, key
the URI) and never rewritten; every node fetches and unpacks it once
(:mod:`polyray.runtime_env.agent`).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Mapping
from typing import Any

import grpc

from polyray.runtime_env.validation import URI_SCHEME, validate

#: The GCS KV namespace packages are stored in.
KV_NAMESPACE = "runtime_env_packages"
#: The largest package, in bytes (100 MiB), unless this variable says otherwise.
MAX_PACKAGE_BYTES_ENV = "POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES"
DEFAULT_MAX_PACKAGE_BYTES = 100 * 1024 * 1024
_PREFIX = URI_SCHEME + "polyray_pkg_"
_SKIP_DIRS = {"__pycache__", ".git"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class PackageTooLarge(ValueError):
    """A package over the size limit (the message names the path, its size and the limit)."""


def max_package_bytes() -> int:
    """The size limit: $POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES, else 100 MiB."""
    raw = os.environ.get(MAX_PACKAGE_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PACKAGE_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{MAX_PACKAGE_BYTES_ENV}={raw!r} is not a number of bytes") from None
    if value <= 0:
        raise ValueError(f"{MAX_PACKAGE_BYTES_ENV} must be positive, got {value}")
    return value


def is_uri(value: str) -> bool:
    """True for a package URI (``gcs://...``)."""
    return value.startswith(URI_SCHEME)


def package_uri(data: bytes) -> str:
    """``gcs://polyray_pkg_<sha256 of data>.zip``."""
    return f"{_PREFIX}{hashlib.sha256(data).hexdigest()}.zip"


def uri_digest(uri: str) -> str:
    """The sha256 named by a package URI; ValueError for anything else."""
    if not uri.startswith(_PREFIX) or not uri.endswith(".zip"):
        raise ValueError(f"not a polyray package URI: {uri!r}")
    digest = uri[len(_PREFIX):-len(".zip")]
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a polyray package URI: {uri!r}")
    return digest


def _add(zf: zipfile.ZipFile, path: str, arcname: str) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_FIXED_TIME)
    mode = os.stat(path).st_mode
    info.external_attr = ((0o755 if mode & stat.S_IXUSR else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as f:
        zf.writestr(info, f.read())


def zip_package(path: str, *, keep_folder_name: bool = False, limit: int | None = None) -> bytes:
    """The package bytes of a local folder or file.

    A ``.zip`` file is taken as it is. A folder's files go in at the zip's root
    (under the folder's own name with ``keep_folder_name``, as ``py_modules``
    needs to import it by that name); another file goes in alone by its base
    name. Raises PackageTooLarge past ``limit`` (default :func:`max_package_bytes`).
    """
    limit = max_package_bytes() if limit is None else limit
    path = os.path.abspath(path)
    if os.path.isfile(path) and path.endswith(".zip"):
        size = os.path.getsize(path)
        if size > limit:
            raise PackageTooLarge(f"{path} is {size} bytes, over the package limit of {limit} bytes "
                                  f"(set {MAX_PACKAGE_BYTES_ENV} to raise it)")
        with open(path, "rb") as f:
            return f.read()
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w") as zf:
        if os.path.isfile(path):
            total = os.path.getsize(path)
            if total <= limit:
                _add(zf, path, os.path.basename(path))
        else:
            base = os.path.basename(path.rstrip(os.sep)) if keep_folder_name else ""
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if not os.path.isfile(full):
                        continue
                    total += os.path.getsize(full)
                    if total > limit:
                        break
                    rel = os.path.relpath(full, path)
                    _add(zf, full, os.path.join(base, rel) if base else rel)
                if total > limit:
                    break
    data = buf.getvalue()
    if total > limit or len(data) > limit:
        raise PackageTooLarge(f"{path} holds over {limit} bytes, over the package limit "
                              f"(set {MAX_PACKAGE_BYTES_ENV} to raise it)")
    return data


def _channel(gcs_address: str, token: str | None) -> grpc.Channel:
    from polyray.protocol import auth

    if token is None:
        return auth.channel(gcs_address)
    ch = (grpc.secure_channel(gcs_address, auth.channel_credentials()) if auth.tls_enabled()
          else grpc.insecure_channel(gcs_address))
    md = auth.call_metadata(token)
    return grpc.intercept_channel(ch, auth._SyncAuth(md)) if md else ch


def upload_packages(runtime_env: Mapping[str, Any] | None, gcs_address: str,
                    token: str | None = None, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """Validate ``runtime_env`` and upload its local folders and files to the GCS at ``gcs_address``.

    Returns the env with every local ``working_dir``, ``py_modules``,
    ``java_jars`` and ``cpp_libs`` entry replaced by its package URI (entries
    already URIs stay). A package the GCS already holds is not sent again.
    ``token`` is the cluster token (None: this process's, from the
    environment). Raises ValueError for a bad env, PackageTooLarge for a
    package over the limit, ConnectionError when the GCS does not answer.
    """
    from polyray.protocol import gcs_pb2, gcs_pb2_grpc

    env = validate(runtime_env)
    todo: list[tuple[str, int | None, str, bool]] = []  # (key, index, path, keep folder name)
    if "working_dir" in env and not is_uri(env["working_dir"]):
        todo.append(("working_dir", None, env["working_dir"], False))
    for key in ("py_modules", "java_jars", "cpp_libs"):
        for i, entry in enumerate(env.get(key, [])):
            if not is_uri(entry):
                todo.append((key, i, entry, key == "py_modules"))
    if not todo:
        return env
    limit = max_package_bytes()
    # A client's sends are unbounded; the GCS takes up to the runtime spec's max_message_bytes.
    channel = _channel(gcs_address, token)
    try:
        stub = gcs_pb2_grpc.GcsServiceStub(channel)
        for key, index, path, keep in todo:
            data = zip_package(path, keep_folder_name=keep, limit=limit)
            uri = package_uri(data)
            # KVKeys, not KVGet: asks whether the GCS has it without sending it back.
            keys = stub.KVKeys(gcs_pb2.KVKeysRequest(namespace=KV_NAMESPACE, prefix=uri.encode()),
                               timeout=timeout_s).keys
            if uri.encode() not in keys:
                stub.KVPut(gcs_pb2.KVPutRequest(namespace=KV_NAMESPACE, key=uri.encode(), value=data,
                                                overwrite=False), timeout=timeout_s)
            if index is None:
                env[key] = uri
            else:
                env[key][index] = uri
    except grpc.RpcError as e:
        raise ConnectionError(f"could not upload runtime_env packages to the GCS at {gcs_address}: "
                              f"{e.code().name}: {e.details()}") from None
    finally:
        channel.close()
    return env
