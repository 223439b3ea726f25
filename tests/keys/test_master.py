from __future__ import annotations

import os
from pathlib import Path

import pytest

from netid.crypto.sealing import generate_seal_key
from netid.keys.errors import MasterKeyInvalid, MasterKeyMissing
from netid.keys.master import (
    create_master_key_file,
    format_master_key,
    load_master_key,
    parse_master_key,
    read_master_key_file,
)


def test_created_file_is_private_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = create_master_key_file(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert read_master_key_file(path) == key


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    with pytest.raises(FileExistsError):
        create_master_key_file(path)


def test_group_readable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    os.chmod(path, 0o640)
    with pytest.raises(MasterKeyInvalid):
        read_master_key_file(path)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyMissing) as info:
        load_master_key(env_value=None, file_path=tmp_path / "absent.key")
    assert "netid keys init" in info.value.message


def test_environment_wins_over_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    env_key = generate_seal_key()
    assert load_master_key(env_value=format_master_key(env_key), file_path=path) == env_key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "netid-master-v1:abcdefgh",
        "netid-master-v2:abcdefgh:AAAAAAAAAAAAAAAAAAAAAA==",
        "netid-master-v1:ABCDEFGH:AAAAAAAAAAAAAAAAAAAAAA==",
        "netid-master-v1:abcdefgh:not-base64!!",
        "netid-master-v1:abcdefgh:AAAA",
    ],
)
def test_malformed_master_keys_are_refused_without_echo(text: str) -> None:
    with pytest.raises(MasterKeyInvalid) as info:
        parse_master_key(text)
    if text:
        assert text not in info.value.message
