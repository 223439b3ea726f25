"""The master key: the one secret kept outside the database; it wraps every other key.

File format (one line, ASCII): ``netid-master-v1:<key id>:<base64 of 16 random bytes>``.
The same string may be given in ``NETID_MASTER_KEY``. A key file must not be readable by
group or others (mode 0600), like an SSH private key.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from netid.crypto.sealing import SM4_KEY_LENGTH, SealKey, generate_seal_key, is_valid_key_id
from netid.keys.errors import MasterKeyInvalid, MasterKeyMissing

_PREFIX = "netid-master-v1"


def format_master_key(key: SealKey) -> str:
    return f"{_PREFIX}:{key.key_id}:{base64.b64encode(key.secret).decode('ascii')}"


def parse_master_key(text: str) -> SealKey:
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != _PREFIX or not is_valid_key_id(parts[1]):
        raise MasterKeyInvalid()
    try:
        secret = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyInvalid() from None
    if len(secret) != SM4_KEY_LENGTH:
        raise MasterKeyInvalid()
    return SealKey(parts[1], secret)


def read_master_key_file(path: Path) -> SealKey:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MasterKeyMissing() from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyInvalid("The master key file must have mode 0600 (chmod 600 it).")
    try:
        return parse_master_key(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError):
        raise MasterKeyInvalid() from None


def create_master_key_file(path: Path) -> SealKey:
    """Write a new master key with mode 0600; never overwrites an existing file."""
    key = generate_seal_key()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(format_master_key(key) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def load_master_key(*, env_value: str | None, file_path: Path | None) -> SealKey:
    if env_value:
        return parse_master_key(env_value)
    if file_path is None:
        raise MasterKeyMissing()
    return read_master_key_file(file_path)
