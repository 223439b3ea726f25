"""Fixed keys, a deterministic salt source and a sample credential for the credential tests."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from netid.credentials import jws, sdjwt
from netid.crypto import jose_keys

VECTORS = Path(__file__).parent / "vectors"
NOW = 1_800_000_000
ISSUER = "https://id.example.test"
STATUS_URI = f"{ISSUER}/v1/status-lists/0f3c"
AUDIENCE = "https://bank.example.test"
NONCE = "n-8c1d2e"

# Fixed keys for known answers: never used outside tests.
ISSUER_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
HOLDER_KEY = ec.derive_private_key(
    int.from_bytes(hashlib.sha256(b"netid test holder").digest(), "big"), ec.SECP256R1()
)
ES_ISSUER_KEY = ec.derive_private_key(
    int.from_bytes(hashlib.sha256(b"netid test issuer").digest(), "big"), ec.SECP256R1()
)
ISSUER_KID = jose_keys.jwk_thumbprint(ISSUER_KEY)
ES_ISSUER_KID = jose_keys.jwk_thumbprint(ES_ISSUER_KEY)
ISSUER_KEYS: dict[str, jose_keys.JosePublicKey] = {
    ISSUER_KID: ISSUER_KEY.public_key(),
    ES_ISSUER_KID: ES_ISSUER_KEY.public_key(),
}

DISCLOSABLE: dict[str, Any] = {
    "name": "张三",
    "document_type": "id_card",
    "document_number": "11010519491231002X",
    "birth_date": "1949-12-31",
    "sex": "male",
    "nationality": "CHN",
    "age_over_14": True,
    "age_over_16": True,
    "age_over_18": True,
    "age_over_60": True,
}


def fixed_random(label: bytes = b"salt") -> Callable[[int], bytes]:
    """A deterministic stand-in for ``secrets.token_bytes`` (known answers only)."""
    counter = 0

    def draw(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.sha256(label + counter.to_bytes(4, "big")).digest()[:n]

    return draw


def plain_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "vct": sdjwt.NETWORK_IDENTITY_VCT,
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 30 * 86400,
        "cnf": {"jwk": jose_keys.public_jwk(HOLDER_KEY, jose_keys.jwk_thumbprint(HOLDER_KEY))},
        "status": {"status_list": {"idx": 4242, "uri": STATUS_URI}},
        "jti": "cred-0001",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def issue(
    *,
    key: jose_keys.JosePrivateKey = ISSUER_KEY,
    kid: str | None = None,
    disclosable: dict[str, Any] | None = None,
    decoys: int = 3,
    random_bytes: Callable[[int], bytes] | None = None,
    **payload: Any,
) -> str:
    return sdjwt.issue(
        issuer_key=key,
        kid=kid or (ISSUER_KID if key is ISSUER_KEY else ES_ISSUER_KID),
        payload=plain_payload(**payload),
        disclosable=DISCLOSABLE if disclosable is None else disclosable,
        decoys=decoys,
        random_bytes=random_bytes or fixed_random(),
    )


def present(credential: str, disclose: list[str], *, issued_at: int = NOW + 60) -> str:
    return sdjwt.present(
        credential,
        disclose=disclose,
        holder_key=HOLDER_KEY,
        audience=AUDIENCE,
        nonce=NONCE,
        issued_at=issued_at,
    )


def craft(
    payload: dict[str, Any],
    disclosures: Sequence[str],
    *,
    header: dict[str, Any] | None = None,
    key: jose_keys.JosePrivateKey = ISSUER_KEY,
) -> str:
    """An issuer-signed SD-JWT with exactly this payload and these disclosures (no checks)."""
    jwt = jws.sign_compact(
        key, header=header or {"typ": "dc+sd-jwt", "kid": ISSUER_KID}, payload=payload
    )
    return "".join(f"{p}~" for p in (jwt, *disclosures))


def disclosure(salt: str, *rest: Any) -> str:
    return jose_keys.b64url_encode(json.dumps([salt, *rest], ensure_ascii=False).encode())


def with_key_binding(
    prefix: str,
    *,
    iat: int = NOW + 60,
    aud: str = AUDIENCE,
    nonce: str = NONCE,
    sd_hash: str | None = None,
    key: jose_keys.JosePrivateKey = HOLDER_KEY,
    typ: str = "kb+jwt",
) -> str:
    """``prefix`` (ending in ``~``) with a KB-JWT over it."""
    kb = jws.sign_compact(
        key,
        header={"typ": typ},
        payload={
            "iat": iat,
            "aud": aud,
            "nonce": nonce,
            "sd_hash": sd_hash or sdjwt.digest(prefix),
        },
    )
    return prefix + kb


def verify(presentation: str, **kwargs: Any) -> sdjwt.VerifiedCredential:
    args: dict[str, Any] = {
        "issuer_keys": ISSUER_KEYS,
        "now": NOW + 61,
        "audience": AUDIENCE,
        "nonce": NONCE,
    }
    args.update(kwargs)
    return sdjwt.verify(presentation, **args)


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real local HTTP server (standard library) running ``handler``; yields its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
