"""The wallet keeps an issued credential only once it verifies under the issuer's JWKS.

A small real HTTP server (the standard library's) plays the platform's three routes that
``enrol finish`` and ``refresh`` use; what it answers is chosen per test, so the wallet can be
shown a credential that is forged, for another issuer or bound to another device.
"""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from netid.credentials import sdjwt
from netid.credentials.network_id import new_network_id
from netid.crypto import jose_keys
from netid.wallet import device
from netid.wallet.errors import ServerAnswerInvalid
from netid.wallet.service import Wallet
from netid.wallet.state import CREDENTIAL_FILE, Enrolment, WalletConfig, WalletDir
from tests.credentials.support import serving

PLATFORM_KEY = ed25519.Ed25519PrivateKey.generate()
PLATFORM_KID = jose_keys.jwk_thumbprint(PLATFORM_KEY)
ISSUER = "https://id.example.test"
NOW = 1_800_000_000


class _Platform(http.server.BaseHTTPRequestHandler):
    credential: ClassVar[str] = ""

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/credentials/jwks":
            self._send(200, {"keys": [jose_keys.public_jwk(PLATFORM_KEY, PLATFORM_KID)]})
        elif self.path == "/.well-known/jwt-vc-issuer":
            self._send(200, {"issuer": ISSUER})
        else:
            self._send(404, {"error": {"code": "not_found", "message": "-", "details": {}}})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/enrolments/complete":
            self._send(
                201,
                {
                    "network_id": new_network_id(),
                    "credential_id": "cred-1",
                    "credential": self.credential,
                    "expires_at": "2027-01-15T00:00:00+00:00",
                },
            )
        else:
            self._send(404, {"error": {"code": "not_found", "message": "-", "details": {}}})

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_Platform) as base:
        yield base


def _enrolling_wallet(path: Path, server: str) -> Wallet:
    directory = WalletDir(path)
    directory.create()
    directory.create_device_key()
    directory.save_config(
        WalletConfig(
            server=server,
            issuer=ISSUER,
            enrolment=Enrolment("e" * 22, "2026-12-02T10:00:00+00:00", "none"),
        )
    )
    return Wallet(directory, now=lambda: NOW + 5)


def _credential(
    wallet: Wallet,
    *,
    key: jose_keys.JosePrivateKey = PLATFORM_KEY,
    iss: str = ISSUER,
    holder: jose_keys.JosePrivateKey | None = None,
) -> str:
    holder_key = holder or wallet.dir.device_key()
    return sdjwt.issue(
        issuer_key=key,
        kid=PLATFORM_KID,
        payload={
            "iss": iss,
            "vct": sdjwt.NETWORK_IDENTITY_VCT,
            "iat": NOW,
            "nbf": NOW,
            "exp": NOW + 86400,
            "cnf": {"jwk": device.public_jwk(holder_key)},
            "status": {"status_list": {"idx": 7, "uri": f"{ISSUER}/v1/status-lists/ab"}},
            "jti": "cred-1",
        },
        disclosable={"name": "张三", "age_over_18": True},
    )


def test_a_credential_signed_by_the_published_key_is_kept(tmp_path: Path, server: str) -> None:
    wallet = _enrolling_wallet(tmp_path / "w", server)
    _Platform.credential = _credential(wallet)
    finished = wallet.enrol_finish("739184")
    assert finished.state == "issued"
    assert wallet.dir.credential() == _Platform.credential
    assert wallet.config().credential_id == "cred-1"


@pytest.mark.parametrize(
    "forgery",
    [
        "signed by a key outside the JWKS (same kid)",
        "for another issuer",
        "bound to another device key",
    ],
)
def test_a_credential_that_does_not_verify_is_not_kept(
    tmp_path: Path, server: str, forgery: str
) -> None:
    wallet = _enrolling_wallet(tmp_path / "w", server)
    if forgery.startswith("signed"):
        _Platform.credential = _credential(wallet, key=ed25519.Ed25519PrivateKey.generate())
    elif forgery.startswith("for another"):
        _Platform.credential = _credential(wallet, iss="https://id.evil.example")
    else:
        other = jose_keys.generate_private_key("ES256")
        _Platform.credential = _credential(wallet, holder=other)
    with pytest.raises(ServerAnswerInvalid):
        wallet.enrol_finish("739184")
    assert not (wallet.dir.path / CREDENTIAL_FILE).exists()
    # The enrolment is complete on the server: the wallet remembers the credential id, so it
    # can log in and fetch a good credential ('refresh') rather than be stuck.
    assert wallet.config().credential_id == "cred-1"
    assert wallet.config().enrolment is None
