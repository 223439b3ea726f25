"""Device-signed JWTs (docs/decisions/0005 "Device-signed JWT"): compact JWS, ES256 only,
signed by the wallet's P-256 device key, whose public JWK the platform holds from enrolment.

The header carries ``alg``, ``typ`` and ``kid`` (the RFC 7638 thumbprint) and never ``jwk``,
``jku`` or ``x5u``: the platform takes the key from its records, never from the token.

* ``netid-liveness+jwt``: the (simulated) liveness check's verdict ``result: "live"``, bound
  to the enrolment (``enrolment_id``) and to the photo sent with it (``image_sha256``).
* ``netid-proof+jwt``: proof of possession of the device key for a request, bound to the
  audience (``aud``: the issuer's ``/v1/enrolments`` or ``/v1/wallet``), a ``nonce`` (the
  enrolment id at enrolment) and a one-time ``jti``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Final

from netid.credentials import jws
from netid.crypto import jose_keys

LIVENESS_TYP: Final = "netid-liveness+jwt"
PROOF_TYP: Final = "netid-proof+jwt"
PROOF_LIFETIME_SECONDS: Final = 60


def public_jwk(key: jose_keys.JosePrivateKey) -> dict[str, str]:
    """The device's public JWK with ``kid`` = its RFC 7638 thumbprint."""
    return jose_keys.public_jwk(key, jose_keys.jwk_thumbprint(key))


def sign_jwt(key: jose_keys.JosePrivateKey, typ: str, payload: dict[str, Any]) -> str:
    """A compact JWS (RFC 7515 §7.1) over ``payload`` with header ``{alg, typ, kid}``."""
    return jws.sign_compact(
        key, header={"typ": typ, "kid": jose_keys.jwk_thumbprint(key)}, payload=payload
    )


def liveness_jwt(
    key: jose_keys.JosePrivateKey, *, enrolment_id: str, image: bytes, now: int
) -> str:
    """The simulated liveness verdict for ``image``: a phone app would run a liveness SDK and
    sign its result the same way."""
    return sign_jwt(
        key,
        LIVENESS_TYP,
        {
            "result": "live",
            "enrolment_id": enrolment_id,
            "image_sha256": jose_keys.b64url_encode(hashlib.sha256(image).digest()),
            "iat": now,
            "exp": now + PROOF_LIFETIME_SECONDS,
            "jti": secrets.token_urlsafe(16),
        },
    )


def proof_jwt(
    key: jose_keys.JosePrivateKey, *, audience: str, now: int, nonce: str | None = None
) -> str:
    payload: dict[str, Any] = {
        "aud": audience,
        "iat": now,
        "exp": now + PROOF_LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(16),  # 22 characters; the platform spends it
    }
    if nonce is not None:
        payload["nonce"] = nonce
    return sign_jwt(key, PROOF_TYP, payload)
