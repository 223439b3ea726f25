"""Key management use cases: init, load, list, rotate, retire, re-wrap under a new master.

Every key lives in the ``keyring`` table sealed under the master key (the only secret outside
the database); the row id in the AAD binds key id, purpose and algorithm, so a row relabelled
to another purpose fails to open. Re-sealing the data a key protects is the registry's job
(``netid.registry.service``); this module only manages the keys.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from netid.core.clock import Clock
from netid.crypto import jose_keys
from netid.crypto.errors import UnknownKey
from netid.crypto.sealing import SealKey, new_key_id, open_sealed, seal
from netid.crypto.sm2 import Sm2PrivateKey
from netid.keys.errors import (
    KeyNotFound,
    KeyringAlreadyInitialised,
    KeyringNotInitialised,
    KeyStillInUse,
    MasterKeyMismatch,
)
from netid.keys.models import KeyRecord
from netid.keys.repository import KeyRepository
from netid.keys.schemas import (
    ALGORITHMS,
    NON_ROTATABLE,
    KeyInfo,
    KeyPurpose,
    KeyState,
    LoadedKey,
)


def _aad_row(record_key_id: str, purpose: str, algorithm: str) -> str:
    return f"{record_key_id}/{purpose}/{algorithm}"


def _wrap(master: SealKey, record: KeyRecord, secret: bytes) -> bytes:
    return seal(
        master,
        secret,
        table="keyring",
        column="wrapped",
        row_id=_aad_row(record.key_id, record.purpose, record.algorithm),
    )


def _new_material(purpose: KeyPurpose) -> tuple[bytes, bytes | None]:
    """(secret, public) for a fresh key of ``purpose``."""
    algorithm = ALGORITHMS[purpose]
    if algorithm == "sm4-gcm":
        return os.urandom(16), None
    if algorithm == "hmac-sm3":
        return os.urandom(32), None
    if algorithm == "sm2-sm3":
        sm2 = Sm2PrivateKey.generate()
        return sm2.private_value(), sm2.public_key().uncompressed()
    jose_key = jose_keys.generate_private_key(JOSE_ALGORITHMS[algorithm])
    return jose_keys.private_bytes_raw(jose_key), public_bytes(jose_key.public_key())


# Keyring algorithm name → JWS "alg" of the key (the names load_private_key takes).
JOSE_ALGORITHMS: dict[str, jose_keys.JoseAlgorithm] = {
    "ed25519": "EdDSA",
    "es256": "ES256",
    "rs256": "RS256",
}


def public_bytes(key: jose_keys.JosePublicKey) -> bytes:
    """Ed25519: the 32-byte key (RFC 8032); P-256: the X9.62 uncompressed point; RSA: the
    SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7 with RFC 8017 Appendix A.1.1)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def jose_private_key(key: LoadedKey) -> jose_keys.JosePrivateKey:
    """The private JOSE key of a loaded ``ed25519`` / ``es256`` / ``rs256`` keyring entry."""
    alg = JOSE_ALGORITHMS.get(key.algorithm)
    if alg is None:
        raise UnknownKey(details={"key_id": key.key_id})
    return _load_jose_private_key(alg, key.secret)


@functools.lru_cache(maxsize=32)
def _load_jose_private_key(alg: jose_keys.JoseAlgorithm, secret: bytes) -> jose_keys.JosePrivateKey:
    # Loading an RSA key checks it (≈ 60 ms here, bench/results/oidc_http.json): once per key
    # per process, not once per ID token. The keyring holds the same secret in memory anyway.
    return jose_keys.load_private_key(alg, secret)


class Keyring:
    """The unwrapped keys of one process. Built by :meth:`KeyringService.load`."""

    def __init__(self, keys: Iterable[LoadedKey]) -> None:
        self._by_id = {k.key_id: k for k in keys if k.state != KeyState.RETIRED}

    def get(self, key_id: str) -> LoadedKey:
        try:
            return self._by_id[key_id]
        except KeyError:
            raise UnknownKey(details={"key_id": key_id}) from None

    def active(self, purpose: KeyPurpose) -> LoadedKey:
        for key in self._by_id.values():
            if key.purpose == purpose and key.state == KeyState.ACTIVE:
                return key
        raise KeyringNotInitialised()

    def all_of(self, purpose: KeyPurpose) -> list[LoadedKey]:
        """Active key first, then the retiring ones (still valid for reading)."""
        keys = [k for k in self._by_id.values() if k.purpose == purpose]
        return sorted(keys, key=lambda k: (k.state != KeyState.ACTIVE, k.key_id))

    def seal_key(self, key_id: str) -> SealKey:
        key = self.get(key_id)
        if key.algorithm != "sm4-gcm":
            raise UnknownKey(details={"key_id": key_id})
        return SealKey(key.key_id, key.secret)

    def active_seal_key(self, purpose: KeyPurpose) -> SealKey:
        key = self.active(purpose)
        return SealKey(key.key_id, key.secret)


class KeyringService:
    def __init__(self, *, repository: KeyRepository, master: SealKey, clock: Clock) -> None:
        self._repo = repository
        self._master = master
        self._clock = clock

    def is_initialised(self) -> bool:
        return bool(self._repo.all())

    def initialise(self) -> list[KeyInfo]:
        if self.is_initialised():
            raise KeyringAlreadyInitialised()
        return [self._create(purpose) for purpose in KeyPurpose]

    def ensure_all_purposes(self) -> list[KeyInfo]:
        """Create an active key for every purpose that has none yet (a keyring made before a
        purpose existed, e.g. ``token_mac``); returns only the keys it created."""
        present = {
            record.purpose for record in self._repo.all() if record.state != KeyState.RETIRED
        }
        return [self._create(purpose) for purpose in KeyPurpose if purpose.value not in present]

    def list_keys(self) -> list[KeyInfo]:
        return [self._info(r) for r in self._repo.all()]

    def load(self) -> Keyring:
        records = self._repo.all()
        if not records:
            raise KeyringNotInitialised()
        return Keyring(self._unwrap(r) for r in records if r.state != KeyState.RETIRED)

    def rotate(self, purpose: KeyPurpose) -> KeyInfo:
        """Make a new active key; the old active one keeps opening old data (retiring)."""
        if purpose in NON_ROTATABLE:
            raise KeyStillInUse(
                "This key cannot be rotated: institutions hold values derived from it."
            )
        for record in self._repo.all():
            if record.purpose == purpose and record.state == KeyState.ACTIVE:
                record.state = KeyState.RETIRING
        return self._create(purpose)

    def retire(self, key_id: str, *, references: int) -> KeyInfo:
        """Destroy a retiring key's secret. ``references``: rows it still protects."""
        record = self._repo.get(key_id)
        if record is None or record.state == KeyState.RETIRED:
            raise KeyNotFound()
        if record.state == KeyState.ACTIVE:
            raise KeyStillInUse("The active key cannot be retired; rotate first.")
        if references:
            raise KeyStillInUse(details={"references": references})
        record.state = KeyState.RETIRED
        record.wrapped = None
        record.retired_at = self._clock.now()
        self._repo.add(record)
        return self._info(record)

    def rewrap_under(self, new_master: SealKey) -> int:
        """Re-seal every live key under ``new_master`` (master-key rotation)."""
        count = 0
        for record in self._repo.all():
            if record.wrapped is None:
                continue
            record.wrapped = _wrap(new_master, record, self._open(record))
            record.master_key_id = new_master.key_id
            count += 1
        self._repo.add_all_flush()
        self._master = new_master
        return count

    def public_keys(self) -> list[LoadedKey]:
        """Public halves of the signing keys, retired ones included: receipts and checkpoints
        they signed must stay verifiable offline (secret field empty)."""
        return [
            LoadedKey(
                key_id=r.key_id,
                purpose=KeyPurpose(r.purpose),
                algorithm=r.algorithm,
                state=KeyState(r.state),
                secret=b"",
                public=r.public,
            )
            for r in self._repo.all()
            if r.public is not None
        ]

    def _create(self, purpose: KeyPurpose) -> KeyInfo:
        secret, public = _new_material(purpose)
        key_id = new_key_id()
        algorithm = ALGORITHMS[purpose]
        record = KeyRecord(
            key_id=key_id,
            purpose=purpose.value,
            algorithm=algorithm,
            state=KeyState.ACTIVE.value,
            wrapped=None,
            master_key_id=self._master.key_id,
            public=public,
            created_at=self._clock.now(),
            retired_at=None,
        )
        record.wrapped = _wrap(self._master, record, secret)
        self._repo.add(record)
        return self._info(record)

    def _open(self, record: KeyRecord) -> bytes:
        if record.master_key_id != self._master.key_id or record.wrapped is None:
            raise MasterKeyMismatch()
        return open_sealed(
            {self._master.key_id: self._master},
            record.wrapped,
            table="keyring",
            column="wrapped",
            row_id=_aad_row(record.key_id, record.purpose, record.algorithm),
        )

    def _unwrap(self, record: KeyRecord) -> LoadedKey:
        return LoadedKey(
            key_id=record.key_id,
            purpose=KeyPurpose(record.purpose),
            algorithm=record.algorithm,
            state=KeyState(record.state),
            secret=self._open(record),
            public=record.public,
        )

    @staticmethod
    def _info(record: KeyRecord) -> KeyInfo:
        return KeyInfo(
            key_id=record.key_id,
            purpose=KeyPurpose(record.purpose),
            algorithm=record.algorithm,
            state=KeyState(record.state),
            created_at=record.created_at,
            retired_at=record.retired_at,
        )
