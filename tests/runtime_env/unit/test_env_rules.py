"""Validation, deterministic packages, merge rules and the canonical form (no cluster)."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from polyray.runtime_env import (
    PackageTooLarge,
    canonical_json,
    env_hash,
    from_json,
    merge,
    package_uri,
    validate,
    zip_package,
)
from polyray.runtime_env.packaging import uri_digest


def _tree(root, files: dict[str, str]) -> str:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return str(root)


@pytest.mark.parametrize("env, key", [
    ({"workdir": "."}, "workdir"),
    ({"env_vars": {"A": 1}}, "env_vars"),
    ({"env_vars": ["A"]}, "env_vars"),
    ({"py_modules": "x"}, "py_modules"),
    ({"java_jars": [3]}, "java_jars"),
    ({"pip": "six"}, "pip"),
    ({"pip": {"packages": ["six"], "pip_version": "1"}}, "pip"),
    ({"working_dir": "/no/such/folder/anywhere"}, "working_dir"),
    ({"cpp_libs": [__file__]}, "cpp_libs"),
])
def test_bad_keys_and_types_name_the_key(env, key) -> None:
    with pytest.raises(ValueError, match=repr(key).replace("[", r"\[")):
        validate(env)


def test_validate_normalizes(tmp_path) -> None:
    os.chdir(tmp_path)
    os.mkdir("wd")
    env = validate({"working_dir": "wd", "pip": {"packages": [" six "]}, "env_vars": {"A": "1"}, "cpp_libs": None})
    assert env == {"working_dir": str(tmp_path / "wd"), "pip": ["six"], "env_vars": {"A": "1"}}
    assert validate(None) == {}
    # The raylet's form: URIs or absolute node-local paths, nothing checked on disk.
    assert validate({"working_dir": "gcs://polyray_pkg_x.zip"}, local=False)["working_dir"].startswith("gcs://")
    with pytest.raises(ValueError, match="working_dir"):
        validate({"working_dir": "relative"}, local=False)


def test_zip_is_deterministic_and_content_addressed(tmp_path) -> None:
    a = _tree(tmp_path / "a", {"m.py": "X = 1\n", "sub/n.py": "Y = 2\n", "__pycache__/m.pyc": "junk"})
    first = zip_package(a)
    os.utime(os.path.join(a, "m.py"), (1, 1))  # times do not count
    assert zip_package(a) == first
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert names == ["m.py", os.path.join("sub", "n.py")]
    with open(os.path.join(a, "m.py"), "w") as f:
        f.write("X = 2\n")
    assert package_uri(zip_package(a)) != package_uri(first)
    uri = package_uri(first)
    assert uri.startswith("gcs://polyray_pkg_") and uri.endswith(".zip") and len(uri_digest(uri)) == 64
    # py_modules keep the folder's name so `import a` works.
    assert zipfile.ZipFile(io.BytesIO(zip_package(a, keep_folder_name=True))).namelist()[0] == os.path.join("a", "m.py")


def test_package_limit(tmp_path, monkeypatch) -> None:
    a = _tree(tmp_path / "big", {"f.bin": "x" * 5000})
    with pytest.raises(PackageTooLarge, match="package limit"):
        zip_package(a, limit=1000)
    monkeypatch.setenv("POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES", "100")
    with pytest.raises(PackageTooLarge, match="POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES"):
        zip_package(a)
    monkeypatch.setenv("POLYRAY_RUNTIME_ENV_MAX_PACKAGE_BYTES", "lots")
    with pytest.raises(ValueError, match="not a number"):
        zip_package(a)


def test_merge_rules() -> None:
    job = {"working_dir": "gcs://a", "env_vars": {"A": "1", "B": "1"}, "pip": ["six"]}
    task = {"env_vars": {"B": "2", "C": "3"}, "working_dir": "gcs://b"}
    assert merge(job, task) == {"working_dir": "gcs://b", "env_vars": {"A": "1", "B": "2", "C": "3"},
                                "pip": ["six"]}
    assert merge(None, {"pip": ["x"]}) == {"pip": ["x"]}
    assert merge(job, None) == job and merge(job, None) is not job


def test_canonical_json_and_hash() -> None:
    a = {"env_vars": {"B": "2", "A": "1"}, "pip": ["six"]}
    b = {"pip": ["six"], "env_vars": {"A": "1", "B": "2"}}
    assert canonical_json(a) == canonical_json(b) == '{"env_vars":{"A":"1","B":"2"},"pip":["six"]}'
    assert env_hash(canonical_json(a)) == env_hash('{"pip": ["six"], "env_vars": {"B": "2", "A": "1"}}')
    assert env_hash(canonical_json({"env_vars": {"A": "2"}})) != env_hash(canonical_json({"env_vars": {"A": "1"}}))
    assert canonical_json({}) == "" and env_hash("") == "" and from_json("") == {}
    with pytest.raises(ValueError, match="JSON object"):
        from_json("[1]")
    with pytest.raises(ValueError, match="not valid JSON"):
        from_json("{nope")
