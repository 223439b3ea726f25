"""Start-up known-answer self-tests (SEC-37): pass on the real primitives, refuse to start on a
corrupted one, and stay in step with the vector files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes

from netid.crypto import selftest, sm2, sm3, sm4
from netid.crypto.errors import SelfTestFailed
from netid.crypto.selftest import run_self_tests

_DIR = Path(__file__).parent / "vectors"


def _load(name: str) -> Any:
    return json.loads((_DIR / name).read_text())


def _flip_last_bit(data: bytes) -> bytes:
    return data[:-1] + bytes((data[-1] ^ 1,))


def test_self_tests_pass() -> None:
    run_self_tests()


def test_self_tests_are_fast() -> None:
    run_self_tests()  # warm
    best = min(_timed(run_self_tests) for _ in range(5))
    assert best < 0.020


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_embedded_vectors_match_the_vector_files() -> None:
    sm3_file = _load("sm3_gbt32905.json")
    assert [(m, d.hex()) for m, d in selftest.SM3_VECTORS] == [
        (v["message_ascii"].encode(), v["digest"]) for v in sm3_file["sm3"]["vectors"]
    ]
    (hmac_vector,) = sm3_file["hmac_sm3"]["vectors"]
    assert (
        hmac_vector["key_ascii"].encode(),
        hmac_vector["message_ascii"].encode(),
        bytes.fromhex(hmac_vector["mac"]),
    ) == selftest.HMAC_SM3_VECTOR
    sm4_a1 = _load("sm4_gbt32907.json")["vectors"][0]
    assert (
        tuple(bytes.fromhex(sm4_a1[k]) for k in ("key", "plaintext", "ciphertext"))
        == selftest.SM4_VECTOR
    )
    gcm = _load("sm4_gcm_rfc8998.json")["vectors"][0]
    assert (
        tuple(bytes.fromhex(gcm[k]) for k in ("key", "iv", "aad", "plaintext", "ciphertext", "tag"))
        == selftest.SM4_GCM_VECTOR
    )
    annex = _load("sm2_gmt0003_annex_a.json")
    assert bytes.fromhex(annex["d"]) == selftest.SM2_D
    assert bytes.fromhex("04" + annex["xA"] + annex["yA"]) == selftest.SM2_PUBLIC
    assert annex["M_ascii"].encode() == selftest.SM2_MESSAGE
    assert bytes.fromhex(annex["ZA"]) == selftest.SM2_ZA
    assert (
        bytes.fromhex(annex["r"]),
        bytes.fromhex(annex["s"]),
    ) == (selftest.SM2_R, selftest.SM2_S)
    assert annex["ID_ascii"].encode() == sm2.SM2_USER_ID


def _patches() -> list[tuple[str, Callable[[pytest.MonkeyPatch], None]]]:
    real_sm3 = sm3.sm3
    real_hmac = sm3.hmac_sm3
    real_block = sm4.sm4_encrypt_block
    real_gcm_encrypt = sm4.sm4_gcm_encrypt
    real_sign = sm2.Sm2PrivateKey.sign

    def lenient_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        # Decrypts (GCM keystream = encryption of zeros) but never checks the tag.
        body = sealed[:-16]
        keystream = real_gcm_encrypt(key, nonce, bytes(len(body)), aad)[:-16]
        return bytes(a ^ b for a, b in zip(body, keystream, strict=True))

    def broken_za(*args: object) -> bytes:
        raise RuntimeError("boom")

    def accept_everything(self: sm2.Sm2PublicKey, signature: bytes, message: bytes) -> None:
        return None

    return [
        ("SM3", lambda m: m.setattr(sm3, "sm3", lambda d: _flip_last_bit(real_sm3(d)))),
        ("SM3", lambda m: m.setattr(hashes, "SM3", hashes.SHA256)),  # substituted hash
        ("HMAC-SM3", lambda m: m.setattr(sm3, "hmac_sm3", lambda k, d: real_hmac(k, d + b"x"))),
        ("SM4", lambda m: m.setattr(sm4, "sm4_encrypt_block", lambda k, b: real_block(k, b[::-1]))),
        (
            "SM4-GCM",
            lambda m: m.setattr(
                sm4,
                "sm4_gcm_encrypt",
                lambda k, n, p, a: _flip_last_bit(real_gcm_encrypt(k, n, p, a)),
            ),
        ),
        ("SM4-GCM", lambda m: m.setattr(sm4, "sm4_gcm_decrypt", lenient_decrypt)),
        ("SM2", lambda m: m.setattr(sm2.Sm2PublicKey, "verify", accept_everything)),
        ("SM2", lambda m: m.setattr(sm2, "SM2_USER_ID", b"")),  # the OpenSSL < 4.0 default
        (
            "SM2",
            lambda m: m.setattr(
                sm2.Sm2PrivateKey, "sign", lambda self, msg: real_sign(self, msg + b"!")
            ),
        ),
        ("SM2", lambda m: m.setattr(sm2, "sm2_za", broken_za)),
    ]


@pytest.mark.parametrize(("primitive", "patch"), _patches())
def test_corrupted_primitive_refuses_start(
    monkeypatch: pytest.MonkeyPatch, primitive: str, patch: Callable[[pytest.MonkeyPatch], None]
) -> None:
    patch(monkeypatch)
    with pytest.raises(SelfTestFailed) as excinfo:
        run_self_tests()
    error = excinfo.value
    assert error.details == {"primitive": primitive}
    assert primitive in error.message
    assert error.code == "crypto_self_test_failed"
    # No key or vector material in the public message.
    for secret in (selftest.SM2_D, selftest.SM4_GCM_VECTOR[0], selftest.HMAC_SM3_VECTOR[0]):
        assert secret.hex() not in error.message.lower()
    monkeypatch.undo()
    run_self_tests()
