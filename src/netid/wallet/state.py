"""The wallet's state directory: what a phone keeps in its app sandbox.

Layout (``--wallet DIR``, default ``~/.netid-wallet``, or ``NETID_WALLET``)::

    wallet.json        server URL, credential id, network ID, enrolment in progress
    device.key         the device's P-256 private key (private JWK, RFC 7517/7518 §6.2.2)
    credential.sd-jwt  the SD-JWT VC the platform issued (RFC 9901 compact form)
    session.json       the wallet session: token, expiry, assurance
    qr-refs.json       unused credential references for QR tokens (one per QR code)

The directory is 0700 and every file 0600, the way ssh treats ``~/.ssh``: a directory or
file that others could read (or that is not the user's own) is refused rather than used, since
the device key is the credential's holder binding (its ``cnf``) and the session a bearer token.
Every file is written whole or not at all: a private temporary file (``os.open`` 0600,
``O_EXCL``), fsync'd, then renamed over the old one, and the directory fsync'd.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from netid.crypto import jose_keys
from netid.crypto.errors import CryptoError
from netid.wallet.errors import (
    WalletExists,
    WalletFileCorrupt,
    WalletInsecure,
    WalletNotInitialised,
)

DEFAULT_WALLET_DIR: Final = "~/.netid-wallet"
WALLET_ENV: Final = "NETID_WALLET"

WALLET_FILE: Final = "wallet.json"
KEY_FILE: Final = "device.key"
CREDENTIAL_FILE: Final = "credential.sd-jwt"
SESSION_FILE: Final = "session.json"
QR_REFS_FILE: Final = "qr-refs.json"
LOCK_FILE: Final = ".lock"  # empty; only flock'ed
STATE_FILES: Final = (WALLET_FILE, KEY_FILE, CREDENTIAL_FILE, SESSION_FILE, QR_REFS_FILE)

WALLET_FORMAT: Final = "netid-wallet/1"
_DIR_MODE: Final = 0o700
_FILE_MODE: Final = 0o600


@dataclass(frozen=True)
class Enrolment:
    """An enrolment in progress (its id is a 128-bit secret: it authenticates the steps)."""

    enrolment_id: str = field(repr=False)
    expires_at: str
    supervision: str
    steps: tuple[str, ...] = ()
    phone_hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "enrolment_id": self.enrolment_id,
            "expires_at": self.expires_at,
            "supervision": self.supervision,
            "steps": list(self.steps),
            "phone_hint": self.phone_hint,
        }


@dataclass(frozen=True)
class WalletConfig:
    server: str
    issuer: str | None = None  # the platform's public URL (JWT audiences), once known
    credential_id: str | None = None
    network_id: str | None = None
    enrolment: Enrolment | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": WALLET_FORMAT,
            "server": self.server,
            "issuer": self.issuer,
            "credential_id": self.credential_id,
            "network_id": self.network_id,
            "enrolment": self.enrolment.to_json() if self.enrolment else None,
        }

    @classmethod
    def from_json(cls, data: Any) -> WalletConfig:
        if not isinstance(data, Mapping) or data.get("format") != WALLET_FORMAT:
            raise ValueError("format")
        enrolment = data.get("enrolment")
        return cls(
            server=_text(data, "server"),
            issuer=_optional_text(data, "issuer"),
            credential_id=_optional_text(data, "credential_id"),
            network_id=_optional_text(data, "network_id"),
            enrolment=None
            if enrolment is None
            else Enrolment(
                enrolment_id=_text(enrolment, "enrolment_id"),
                expires_at=_text(enrolment, "expires_at"),
                supervision=_text(enrolment, "supervision"),
                steps=tuple(_texts(enrolment, "steps")),
                phone_hint=_optional_text(enrolment, "phone_hint"),
            ),
        )


@dataclass(frozen=True)
class Session:
    """A wallet session (``POST /v1/wallet/sessions``): a bearer token, so kept 0600."""

    token: str = field(repr=False)
    expires_at: str
    assurance: str

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "expires_at": self.expires_at, "assurance": self.assurance}

    @classmethod
    def from_json(cls, data: Any) -> Session:
        return cls(
            token=_text(data, "token"),
            expires_at=_text(data, "expires_at"),
            assurance=_text(data, "assurance"),
        )


@dataclass(frozen=True)
class QrRefs:
    """Unused credential references (``POST /v1/wallet/qr-refs``); each is used once."""

    refs: tuple[str, ...] = field(repr=False)
    expires_at: str

    def to_json(self) -> dict[str, Any]:
        return {"refs": list(self.refs), "expires_at": self.expires_at}

    @classmethod
    def from_json(cls, data: Any) -> QrRefs:
        return cls(refs=tuple(_texts(data, "refs")), expires_at=_text(data, "expires_at"))


def _text(data: Any, name: str) -> str:
    value = data.get(name) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise ValueError(name)
    return value


def _optional_text(data: Any, name: str) -> str | None:
    value = data.get(name) if isinstance(data, Mapping) else None
    if value is not None and not isinstance(value, str):
        raise ValueError(name)
    return value or None


def _texts(data: Any, name: str) -> list[str]:
    value = data.get(name) if isinstance(data, Mapping) else None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(name)
    return list(value)


def default_wallet_dir() -> Path:
    return Path(os.environ.get(WALLET_ENV) or DEFAULT_WALLET_DIR).expanduser()


def _check_private(path: Path, st: os.stat_result, *, directory: bool) -> None:
    kind_ok = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
    if not kind_ok or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise WalletInsecure(details={"file": "." if directory else path.name})


def _sync_directory(path: Path) -> None:
    # A rename is durable only once the directory entry is (POSIX: fsync the directory).
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``path`` whole or not at all, mode 0600 from the start (``os.open``, never a
    chmod after the fact): a private temporary file beside it, fsync'd, renamed over it.
    ``exclusive``: raise :class:`WalletExists` rather than replace an existing file."""
    pending = path.with_name(f".{path.name}.{secrets.token_hex(8)}.pending")
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(pending, path)  # atomic, and fails if the target exists
            except FileExistsError:
                raise WalletExists() from None
            finally:
                pending.unlink(missing_ok=True)
        else:
            os.replace(pending, path)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


class WalletDir:
    """One wallet directory. Every read checks permissions first; nothing is cached, so two
    commands in a row (or two processes) see each other's writes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- the directory -------------------------------------------------------------------------
    def create(self) -> None:
        """Make the directory 0700 (parents as needed); an existing one must already be
        private: a loose directory is refused, never silently tightened."""
        with contextlib.suppress(FileExistsError):
            self.path.mkdir(mode=_DIR_MODE, parents=True)
        self.check()

    def exists(self) -> bool:
        return (self.path / WALLET_FILE).exists()

    def check(self) -> None:
        """Refuse a directory or state file that others can read or that is not ours."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise WalletNotInitialised() from None
        _check_private(self.path, st, directory=True)
        for name in STATE_FILES:
            file = self.path / name
            try:
                st = os.lstat(file)
            except FileNotFoundError:
                continue
            _check_private(file, st, directory=False)  # a symlink is not a regular file

    # -- raw files -----------------------------------------------------------------------------
    def _read(self, name: str) -> bytes | None:
        self.check()
        try:
            fd = os.open(self.path / name, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def _write(self, name: str, data: bytes, *, exclusive: bool = False) -> None:
        self.check()
        write_private(self.path / name, data, exclusive=exclusive)

    def _remove(self, name: str) -> None:
        self.check()
        (self.path / name).unlink(missing_ok=True)
        self._sync_directory()

    def _sync_directory(self) -> None:
        _sync_directory(self.path)

    def _read_json(self, name: str) -> Any | None:
        raw = self._read(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise WalletFileCorrupt(name) from None

    def _write_json(self, name: str, data: Any) -> None:
        self._write(name, json.dumps(data, indent=2, ensure_ascii=False).encode() + b"\n")

    # -- wallet.json ---------------------------------------------------------------------------
    def config(self) -> WalletConfig:
        data = self._read_json(WALLET_FILE)
        if data is None:
            raise WalletNotInitialised()
        try:
            return WalletConfig.from_json(data)
        except (ValueError, TypeError):
            raise WalletFileCorrupt(WALLET_FILE) from None

    def save_config(self, config: WalletConfig) -> None:
        self._write_json(WALLET_FILE, config.to_json())

    def update_config(self, **changes: Any) -> WalletConfig:
        config = replace(self.config(), **changes)
        self.save_config(config)
        return config

    # -- device.key ----------------------------------------------------------------------------
    def create_device_key(self) -> jose_keys.JosePrivateKey:
        """A new P-256 device key, written once (never over an existing key)."""
        key = jose_keys.generate_private_key("ES256")
        jwk = jose_keys.public_jwk(key, jose_keys.jwk_thumbprint(key)) | {
            "d": jose_keys.b64url_encode(jose_keys.private_bytes_raw(key))
        }
        self._write(KEY_FILE, json.dumps(jwk).encode() + b"\n", exclusive=True)
        return key

    def device_key(self) -> jose_keys.JosePrivateKey:
        raw = self._read(KEY_FILE)
        if raw is None:
            raise WalletNotInitialised()
        try:
            jwk = json.loads(raw)
            if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
                raise ValueError("kty")
            key = jose_keys.load_private_key("ES256", jose_keys.b64url_decode(jwk["d"]))
            # The stored public half must be this key's (a swapped half is a damaged file).
            if jose_keys.public_jwk(key, "-")["x"] != jwk.get("x"):
                raise ValueError("x")
        except (ValueError, TypeError, KeyError, AttributeError, CryptoError):
            raise WalletFileCorrupt(KEY_FILE) from None
        return key

    def has_device_key(self) -> bool:
        self.check()
        return (self.path / KEY_FILE).exists()

    # -- credential.sd-jwt ---------------------------------------------------------------------
    def credential(self) -> str | None:
        raw = self._read(CREDENTIAL_FILE)
        if raw is None:
            return None
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise WalletFileCorrupt(CREDENTIAL_FILE) from None
        if text.count(".") < 2 or "~" not in text:
            raise WalletFileCorrupt(CREDENTIAL_FILE)
        return text

    def save_credential(self, compact: str) -> None:
        self._write(CREDENTIAL_FILE, compact.encode("ascii") + b"\n")

    # -- session.json --------------------------------------------------------------------------
    def session(self) -> Session | None:
        data = self._read_json(SESSION_FILE)
        if data is None:
            return None
        try:
            return Session.from_json(data)
        except (ValueError, TypeError):
            raise WalletFileCorrupt(SESSION_FILE) from None

    def save_session(self, session: Session) -> None:
        self._write_json(SESSION_FILE, session.to_json())

    def clear_session(self) -> None:
        self._remove(SESSION_FILE)
        self._remove(QR_REFS_FILE)  # references carry the session id: useless without it

    # -- qr-refs.json --------------------------------------------------------------------------
    def qr_refs(self) -> QrRefs | None:
        data = self._read_json(QR_REFS_FILE)
        if data is None:
            return None
        try:
            return QrRefs.from_json(data)
        except (ValueError, TypeError):
            raise WalletFileCorrupt(QR_REFS_FILE) from None

    def save_qr_refs(self, refs: QrRefs) -> None:
        self._write_json(QR_REFS_FILE, refs.to_json())

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the wallet's lock (``flock`` on ``.lock``) for a read-modify-write: two
        commands taking a QR reference at once must not take the same one (two scans would
        then be linkable)."""
        self.check()
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, _FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # -- forgetting ----------------------------------------------------------------------------
    def forget_credential(self) -> None:
        """After deregistration: the credential, the session, the references and the device
        key go; wallet.json keeps only the server (the network ID stays the person's, but
        this device no longer holds anything that proves it)."""
        config = self.config()
        for name in (SESSION_FILE, QR_REFS_FILE, CREDENTIAL_FILE, KEY_FILE, LOCK_FILE):
            with contextlib.suppress(FileNotFoundError):
                self._remove(name)
        self.save_config(replace(config, credential_id=None, network_id=None, enrolment=None))
