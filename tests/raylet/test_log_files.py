"""The raylet's log files (raylet/log_files.py): listing, pages, tails, and the names it refuses."""

from __future__ import annotations

import os

import pytest

from polyray.raylet.log_files import MAX_READ_BYTES, LogFiles, Writer, check_name, parse_name

WID = bytes.fromhex("ab" * 28)


def _folder(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / f"worker-{WID.hex()[:16]}-01000000-4242.out").write_bytes(b"".join(b"line-%d\n" % i for i in range(10)))
    (logs / f"worker-{WID.hex()[:16]}-01000000-4242.err").write_bytes(b"oops\n")
    (logs / "other.txt").write_bytes(b"x")
    (logs / "sub").mkdir()
    return logs


def test_list_names_files_and_their_running_writer(tmp_path):
    logs = _folder(tmp_path)
    files = LogFiles(str(logs), lambda: [Writer(WID, 4242, True)]).list()
    assert [f["filename"] for f in files] == [
        "other.txt", f"worker-{WID.hex()[:16]}-01000000-4242.err", f"worker-{WID.hex()[:16]}-01000000-4242.out"]
    out = files[2]
    assert out["size"] == 70 and out["pid"] == 4242 and out["worker_id"] == WID and out["alive"]
    assert files[0]["pid"] == 0 and not files[0]["alive"]
    # The writer gone: the file stays, not alive.
    assert not LogFiles(str(logs)).list()[2]["alive"]
    assert LogFiles(str(tmp_path / "none")).list() == []


def test_pages_and_tails(tmp_path):
    logs = _folder(tmp_path)
    lf = LogFiles(str(logs))
    name = f"worker-{WID.hex()[:16]}-01000000-4242.out"
    page = lf.read(name, offset=7, max_bytes=7)
    assert page["data"] == b"line-1\n" and page["offset"] == 7 and page["size"] == 70
    assert lf.read(name, offset=1000)["data"] == b""
    assert lf.read(name, tail_lines=2)["data"] == b"line-8\nline-9\n"
    assert lf.read(name, tail_lines=100)["data"].count(b"\n") == 10
    # A tail is bounded by max_bytes too.
    assert lf.read(name, tail_lines=100, max_bytes=14)["data"] == b"line-8\nline-9\n"
    (logs / "nonl").write_bytes(b"a\nb\nc")
    assert lf.read("nonl", tail_lines=2)["data"] == b"b\nc"
    big = logs / "big"
    big.write_bytes(b"z" * (MAX_READ_BYTES + 10))
    assert len(lf.read("big", max_bytes=10 * MAX_READ_BYTES)["data"]) == MAX_READ_BYTES


@pytest.mark.parametrize("bad", ["", ".", "..", "../../etc/passwd", "/etc/passwd", "a/b", "..\\x", "a\0b"])
def test_paths_are_refused(tmp_path, bad):
    lf = LogFiles(str(_folder(tmp_path)))
    with pytest.raises(ValueError):
        check_name(bad)
    with pytest.raises(ValueError):
        lf.read(bad)


def test_a_symlink_out_of_the_folder_is_refused_and_a_missing_file_is_not_found(tmp_path):
    logs = _folder(tmp_path)
    secret = tmp_path / "secret"
    secret.write_text("secret")
    os.symlink(secret, logs / "link-out")
    os.symlink(logs / "other.txt", logs / "link-in")
    lf = LogFiles(str(logs))
    with pytest.raises(ValueError):
        lf.read("link-out")
    # A symlink is never followed, even one that stays inside.
    with pytest.raises(ValueError):
        lf.read("link-in")
    with pytest.raises(FileNotFoundError):
        lf.read("no-such-file")
    with pytest.raises(ValueError):
        lf.read("sub")  # a folder
    assert "link-out" not in [f["filename"] for f in lf.list()]


def test_worker_file_names_parse():
    assert parse_name(f"worker-{'0' * 16}-01000000-17.out") == ("0" * 16, 17)
    assert parse_name("worker-xyz-1-2.out") is None
    assert parse_name("head.log") is None
