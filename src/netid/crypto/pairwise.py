"""Pairwise pseudonyms (DESIGN.md "Pseudonyms"; OIDC Core 1.0 §8.1).

An institution sees a person only as ``base64url(HMAC-SM3(K_pairwise, len‖sector‖len‖subject_id))``:
stable for one sector, unlinkable across two without the key. The verification API and the
OIDC ``sub`` of one institution use this one function, so they give it the same value.
"""

from __future__ import annotations

from netid.crypto.jose_keys import b64url_encode
from netid.crypto.sm3 import hmac_sm3, length_prefixed


def pairwise_pseudonym(key: bytes, *, sector: str, subject_id: str) -> str:
    """Length-prefixed so that (sector "a.b", subject "c") and ("a", "b.c") differ."""
    return b64url_encode(hmac_sm3(key, length_prefixed(sector.encode(), subject_id.encode())))
