"""A relying-party client: ``private_key_jwt`` (RFC 7523 §2.2) for a token, then the API.

Deliberately small and standard-library only (``urllib``), so it reads as the sequence of
HTTP calls any language makes:

1. build a JWT with ``iss`` = ``sub`` = client id, ``aud`` = the token endpoint, a fresh
   ``jti``, ``exp`` a minute ahead; sign it ES256 (or EdDSA) with the institution's key;
2. ``POST /oauth2/token`` with ``grant_type=client_credentials``,
   ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and the JWT;
3. ``POST /v1/verifications`` with ``Authorization: Bearer <access_token>``;
4. ``GET /v1/receipts/{id}`` for the signed receipt.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netid.crypto import jose_keys

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 60


class ClientFileInvalid(ValueError):
    """The client file is missing a member or holds a malformed key."""


@dataclass(frozen=True)
class ClientFile:
    institution_code: str
    client_id: str
    token_endpoint: str
    api_base: str
    private_jwk: dict[str, str] = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> ClientFile:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                institution_code=str(data["institution_code"]),
                client_id=str(data["client_id"]),
                token_endpoint=str(data["token_endpoint"]),
                api_base=str(data["api_base"]).rstrip("/"),
                private_jwk=dict(data["private_jwk"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ClientFileInvalid("The client file is not valid.") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "institution_code": self.institution_code,
            "client_id": self.client_id,
            "token_endpoint": self.token_endpoint,
            "api_base": self.api_base,
            "private_jwk": self.private_jwk,
        }


def private_jwk(key: jose_keys.JosePrivateKey, kid: str) -> dict[str, str]:
    """SECRET: the private JWK (RFC 7517; ``d`` per RFC 7518 §6.2.2.1 / RFC 8037 §2)."""
    return jose_keys.public_jwk(key, kid) | {
        "d": jose_keys.b64url_encode(jose_keys.private_bytes_raw(key))
    }


def _signing_key(jwk: dict[str, str]) -> tuple[str, jose_keys.JosePrivateKey]:
    alg: jose_keys.JoseAlgorithm = "EdDSA" if jwk.get("kty") == "OKP" else "ES256"
    try:
        return alg, jose_keys.load_private_key(alg, jose_keys.b64url_decode(jwk["d"]))
    except (KeyError, ValueError):
        raise ClientFileInvalid("The client file's key is not valid.") from None


def client_assertion(client: ClientFile, *, now: float | None = None) -> str:
    """A compact JWS (RFC 7515 §7.1) proving possession of the registered key."""
    alg, key = _signing_key(client.private_jwk)
    issued = int(now if now is not None else time.time())
    header = {"alg": alg, "typ": "JWT", "kid": client.private_jwk.get("kid", "")}
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": client.token_endpoint,
        "jti": secrets.token_urlsafe(16),
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
    }
    signing_input = ".".join(
        jose_keys.b64url_encode(json.dumps(part, separators=(",", ":")).encode())
        for part in (header, claims)
    )
    signature = jose_keys.sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{jose_keys.b64url_encode(signature)}"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any
    headers: dict[str, str]


def _send(request: urllib.request.Request, timeout: float) -> HttpAnswer:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            status, raw, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), dict(error.headers)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return HttpAnswer(status, body, headers)


class RelyingParty:
    """One institution talking to netid."""

    def __init__(self, client: ClientFile, *, timeout: float = 10.0) -> None:
        if not client.api_base.startswith(("http://", "https://")):
            raise ClientFileInvalid("api_base must be an http(s) URL.")
        self.client = client
        self._timeout = timeout
        self._token: str | None = None
        self._token_expires = 0.0

    def token(self) -> str:
        """An access token, fetched again a little before it expires."""
        if self._token and time.time() < self._token_expires - 30:
            return self._token
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(self.client),
            }
        ).encode()
        answer = _send(
            urllib.request.Request(  # noqa: S310 - http(s) only, checked above
                self.client.token_endpoint,
                data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            self._timeout,
        )
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise TokenRefused(answer)
        self._token = str(answer.body["access_token"])
        self._token_expires = time.time() + float(answer.body.get("expires_in", 60))
        return self._token

    def call(self, method: str, path: str, body: Any | None = None) -> HttpAnswer:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            self.client.api_base + path, data=data, headers=headers, method=method
        )
        return _send(request, self._timeout)

    def verify(self, body: dict[str, Any]) -> HttpAnswer:
        return self.call("POST", "/v1/verifications", body)

    def receipt(self, receipt_id: str) -> HttpAnswer:
        return self.call("GET", f"/v1/receipts/{urllib.parse.quote(receipt_id)}")


class TokenRefused(Exception):
    def __init__(self, answer: HttpAnswer) -> None:
        super().__init__(f"The token endpoint answered {answer.status}.")
        self.answer = answer
