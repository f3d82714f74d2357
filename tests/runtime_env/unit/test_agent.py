"""The node agent with a fake GCS fetch: packages unpacked once, checked, shared by concurrent starts."""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile

import pytest

from polyray.runtime_env import canonical_json, package_uri, zip_package
from polyray.runtime_env.agent import RuntimeEnvAgent, RuntimeEnvSetupError


class FakeStore:
    """Packages by URI; counts fetches; each fetch yields once so concurrent callers overlap."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.fetched: list[str] = []

    def add(self, data: bytes) -> str:
        uri = package_uri(data)
        self.blobs[uri] = data
        return uri

    async def fetch(self, uri: str) -> bytes | None:
        self.fetched.append(uri)
        await asyncio.sleep(0)
        return self.blobs.get(uri)


def _folder(root, files: dict[str, str]) -> str:
    os.makedirs(root, exist_ok=True)
    for rel, text in files.items():
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)
    return str(root)


def test_packages_are_fetched_once_and_shared(tmp_path) -> None:
    store = FakeStore()
    wd = store.add(zip_package(_folder(tmp_path / "wd", {"m.py": "X=1", "a.jar": "jar", "libf.so": "elf"})))
    jars = store.add(zip_package(_folder(tmp_path / "jars", {"b.jar": "jar"})))
    mod = store.add(zip_package(_folder(tmp_path / "pkgmod", {"__init__.py": ""}), keep_folder_name=True))
    env = canonical_json({"working_dir": wd, "java_jars": [jars], "py_modules": [mod], "env_vars": {"A": "1"}})
    agent = RuntimeEnvAgent(str(tmp_path / "cache"), store.fetch)

    async def main():
        return await asyncio.gather(*(agent.prepare(env) for _ in range(5)))

    results = asyncio.run(main())
    assert all(r == results[0] for r in results)
    p = results[0]
    assert sorted(store.fetched) == sorted([wd, jars, mod]), "one fetch per package for five concurrent starts"
    assert p.cwd and os.path.isfile(os.path.join(p.cwd, "m.py"))
    assert p.python_path[0] == p.cwd and os.path.isdir(os.path.join(p.python_path[1], "pkgmod"))
    assert p.java_path[0] == p.cwd and p.java_path[1].endswith("a.jar") and p.java_path[-1].endswith("b.jar")
    assert [os.path.basename(x) for x in p.cpp_path] == ["libf.so"]
    assert p.env_vars == {"A": "1"} and json.loads(p.json)["env_vars"] == {"A": "1"}
    # A new agent (a restarted raylet) finds the unpacked folders: nothing fetched again.
    again = RuntimeEnvAgent(str(tmp_path / "cache"), store.fetch)
    store.fetched.clear()
    assert asyncio.run(again.prepare(env)) == p and store.fetched == []


def test_missing_tampered_and_bad_packages_fail_clearly(tmp_path) -> None:
    store = FakeStore()
    agent = RuntimeEnvAgent(str(tmp_path / "cache"), store.fetch)
    missing = package_uri(b"never uploaded")
    with pytest.raises(RuntimeEnvSetupError, match="not in the GCS"):
        asyncio.run(agent.prepare(canonical_json({"working_dir": missing})))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.py", "1")
    uri = package_uri(buf.getvalue())
    store.blobs[uri] = b"other bytes"
    with pytest.raises(RuntimeEnvSetupError, match="does not match its hash"):
        asyncio.run(agent.prepare(canonical_json({"working_dir": uri})))
    junk = b"garbage, not a zip"
    with pytest.raises(RuntimeEnvSetupError, match="not a zip"):
        asyncio.run(agent.prepare(canonical_json({"working_dir": store.add(junk)})))
    with pytest.raises(RuntimeEnvSetupError, match="unknown runtime_env key"):
        asyncio.run(agent.prepare('{"nope": 1}'))
    with pytest.raises(RuntimeEnvSetupError, match="not valid JSON"):
        asyncio.run(agent.prepare("{"))
    with pytest.raises(RuntimeEnvSetupError, match="does not exist on this node"):
        asyncio.run(agent.prepare(canonical_json({"working_dir": "/no/such/dir/here"})))
    # A zip whose names climb out of the target stays inside it.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escaped.txt", "x")
    p = asyncio.run(agent.prepare(canonical_json({"working_dir": store.add(buf.getvalue())})))
    assert not os.path.exists(tmp_path / "escaped.txt") and p.cwd is not None


def test_node_local_paths_are_used_in_place(tmp_path) -> None:
    wd = _folder(tmp_path / "local_wd", {"k.jar": "j", "libk.so.1": "elf"})
    agent = RuntimeEnvAgent(str(tmp_path / "cache"), FakeStore().fetch)
    p = asyncio.run(agent.prepare(canonical_json({"working_dir": wd, "cpp_libs": [wd]})))
    assert p.cwd == wd and p.java_path == (wd, os.path.join(wd, "k.jar"))
    assert p.cpp_path == (os.path.join(wd, "libk.so.1"),)
