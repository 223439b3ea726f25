"""Key purposes and the public view of a key (never its secret)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class KeyPurpose(StrEnum):
    DATA = "data"  # SM4: wraps per-person keys, seals non-person data
    FACE = "face"  # SM4: seals face templates (separate from the data key on purpose)
    BLIND_INDEX = "blind_index"  # HMAC-SM3 over normalised document numbers
    PAIRWISE = "pairwise"  # HMAC-SM3 for pairwise pseudonyms; never rotated (versioned)
    SM2_SIGNING = "sm2_signing"  # receipts, log checkpoints (GM/T 0003)
    ED25519_SIGNING = "ed25519_signing"  # checkpoint co-signature, credentials
    ES256_SIGNING = "es256_signing"  # OIDC ID tokens (on request)
    RS256_SIGNING = "rs256_signing"  # OIDC ID tokens: RS256, which OIDC Core §15.1 requires
    TOKEN_MAC = "token_mac"  # noqa: S105 (a purpose name) HMAC-SM3 over bearer tokens


ALGORITHMS: dict[KeyPurpose, str] = {
    KeyPurpose.DATA: "sm4-gcm",
    KeyPurpose.FACE: "sm4-gcm",
    KeyPurpose.BLIND_INDEX: "hmac-sm3",
    KeyPurpose.PAIRWISE: "hmac-sm3",
    KeyPurpose.SM2_SIGNING: "sm2-sm3",
    KeyPurpose.ED25519_SIGNING: "ed25519",
    KeyPurpose.ES256_SIGNING: "es256",
    KeyPurpose.RS256_SIGNING: "rs256",
    KeyPurpose.TOKEN_MAC: "hmac-sm3",
}

SIGNING_PURPOSES = frozenset(
    {
        KeyPurpose.SM2_SIGNING,
        KeyPurpose.ED25519_SIGNING,
        KeyPurpose.ES256_SIGNING,
        KeyPurpose.RS256_SIGNING,
    }
)
# Rotating the pairwise key would change every pseudonym every institution holds.
NON_ROTATABLE = frozenset({KeyPurpose.PAIRWISE})


class KeyState(StrEnum):
    ACTIVE = "active"  # used for new seals / signatures
    RETIRING = "retiring"  # still opens old data and verifies old signatures
    RETIRED = "retired"  # secret destroyed


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    purpose: KeyPurpose
    algorithm: str
    state: KeyState
    created_at: dt.datetime
    retired_at: dt.datetime | None


@dataclass(frozen=True)
class LoadedKey:
    key_id: str
    purpose: KeyPurpose
    algorithm: str
    state: KeyState
    secret: bytes = field(repr=False)
    public: bytes | None = None
