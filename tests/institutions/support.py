"""Applications and keys for institution tests."""

from __future__ import annotations

from typing import Any

from netid.crypto import jose_keys
from netid.crypto.sm2 import FIELD_LENGTH, Sm2PrivateKey

VALID_USCC = "91350100M000100Y43"  # zh.wikipedia example (tests/documents/vectors/uscc.json)
REP_NAME = "欧阳娜娜测"
CONTACT_EMAIL = "liaison.officer@bank.example"


def es256_jwk(kid: str = "k1") -> dict[str, str]:
    return jose_keys.public_jwk(jose_keys.generate_private_key("ES256"), kid=kid)


def ed25519_jwk(kid: str = "k2") -> dict[str, str]:
    return jose_keys.public_jwk(jose_keys.generate_private_key("EdDSA"), kid=kid)


def sm2_jwk(kid: str = "k3") -> dict[str, str]:
    point = Sm2PrivateKey.generate().public_key().uncompressed()
    return {
        "kty": "EC",
        "crv": "SM2",
        "x": jose_keys.b64url_encode(point[1 : 1 + FIELD_LENGTH]),
        "y": jose_keys.b64url_encode(point[1 + FIELD_LENGTH :]),
        "kid": kid,
    }


def application(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "示例银行股份有限公司",
        "uscc": VALID_USCC,
        "industry": "banking_finance",
        "purposes": ["account_opening", "payment"],
        "location": "domestic",
        "agreement": {"version": "2026-01", "accepted": True},
        "website": "https://www.bank.example/about",
        "legal_representative": {
            "name": REP_NAME,
            "phone": "+86 138 0013 8000",
            "email": "legal.rep@bank.example",
        },
        "contact": {"name": "张三丰测", "phone": "13900139000", "email": CONTACT_EMAIL},
        "public_jwks": [es256_jwk()],
    }
    body.update(overrides)
    return body
