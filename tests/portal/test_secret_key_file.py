"""The secret key generated into the instance folder, on a filesystem without hard links
(some shared folders, FUSE): created all the same, never read half-written by the processes
`preau serve` starts at once."""
from __future__ import annotations

import errno
import os
import re
import stat
import threading
import time

import pytest

from directory.errors import InvalidInput
from portal import config


@pytest.fixture
def no_hard_links(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise OSError(errno.EPERM)

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.delenv("PREAU_SECRET_KEY", raising=False)


def test_the_key_is_created_without_hard_links_and_read_back_the_same(tmp_path, no_hard_links):
    key = config._secret_key(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert config._secret_key(tmp_path) == key
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]     # no temporary file left


def test_a_key_being_written_is_read_once_whole(tmp_path, no_hard_links):
    """Another process created the file and has not written it yet: the key it writes is
    read, not an empty one."""
    key_file = tmp_path / "secret_key"
    key_file.touch(mode=0o600)
    key = "0123456789abcdef" * 4

    def write_later():
        time.sleep(0.2)
        key_file.write_text(key[:20])
        time.sleep(0.1)
        key_file.write_text(key)

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        assert config._secret_key(tmp_path) == key
    finally:
        writer.join()


def test_a_key_file_left_empty_stops_the_start_in_one_line(tmp_path, no_hard_links,
                                                           monkeypatch):
    monkeypatch.setattr(config, "KEY_WAIT_SECONDS", 0.1)
    (tmp_path / "secret_key").touch()
    with pytest.raises(InvalidInput, match="est vide"):
        config._secret_key(tmp_path)


def test_two_starts_at_once_read_the_same_key(tmp_path, no_hard_links):
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(config._secret_key(tmp_path)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1
