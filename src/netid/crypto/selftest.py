"""Known-answer self-tests run at service start (SEC-37): a failure stops start-up.

Every check calls the *same module functions* the service uses (``sm3.sm3``, ``sm4.sm4_gcm_*``,
``sm2.Sm2PublicKey.verify`` …, looked up at call time), so a broken or substituted
implementation — a different OpenSSL build, a patched wheel, a monkeypatch in a test — is caught.
Errors name the primitive only; the vectors are public, no key of ours is involved.

The same vectors are kept, with their sources, in ``tests/crypto/vectors/*.json``; a test
asserts that the copies below have not drifted from those files.

Budget: under 20 ms (measured here: ≈9 ms on the first run, ≈3–5 ms after; SM2 dominates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from netid.crypto import sm2 as _sm2
from netid.crypto import sm3 as _sm3
from netid.crypto import sm4 as _sm4
from netid.crypto.errors import SelfTestFailed, SignatureInvalid

_h = bytes.fromhex

# GB/T 32905-2016 Appendix A (examples 1 and 2).
SM3_VECTORS: Final = (
    (b"abc", _h("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")),
    (b"abcd" * 16, _h("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")),
)

# HMAC-SM3 (RFC 2104 over SM3); value agreed by `cryptography` and the stdlib over the system
# OpenSSL (standards.md §2.1).
HMAC_SM3_VECTOR: Final = (
    b"key",
    b"msg",
    _h("aaef27f7826f0b502a7e3d787a7ac6ee15a4ce44e2631200df14c54bc4f57fa7"),
)

# GB/T 32907-2016 Appendix A.1: key = plaintext.
SM4_VECTOR: Final = (
    _h("0123456789abcdeffedcba9876543210"),
    _h("0123456789abcdeffedcba9876543210"),
    _h("681edf34d206965e86b3e94f536e4246"),
)

# RFC 8998 Appendix A.1 (SM4-GCM): key, IV, AAD, plaintext, ciphertext, tag.
SM4_GCM_VECTOR: Final = (
    _h("0123456789ABCDEFFEDCBA9876543210"),
    _h("00001234567800000000ABCD"),
    _h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"),
    _h(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    ),
    _h(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    ),
    _h("83DE3541E4C2B58177E065A9BF7B62EC"),
)

# GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A, SM2 signature on sm2p256v1,
# ID = "1234567812345678", M = "message digest".
SM2_D: Final = _h("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
SM2_PUBLIC: Final = _h(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
SM2_MESSAGE: Final = b"message digest"
SM2_ZA: Final = _h("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
SM2_R: Final = _h("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
SM2_S: Final = _h("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")


class _Mismatch(Exception):
    pass


def _expect(condition: bool) -> None:
    if not condition:
        raise _Mismatch


def _rejects(call: Callable[[], object], error: type[Exception]) -> bool:
    try:
        call()
    except error:
        return True
    return False


def _check_sm3() -> None:
    for message, digest in SM3_VECTORS:
        _expect(_sm3.sm3(message) == digest)


def _check_hmac_sm3() -> None:
    key, message, mac = HMAC_SM3_VECTOR
    _expect(_sm3.hmac_sm3(key, message) == mac)


def _check_sm4() -> None:
    key, plaintext, ciphertext = SM4_VECTOR
    _expect(_sm4.sm4_encrypt_block(key, plaintext) == ciphertext)


def _check_sm4_gcm() -> None:
    key, nonce, aad, plaintext, ciphertext, tag = SM4_GCM_VECTOR
    _expect(_sm4.sm4_gcm_encrypt(key, nonce, plaintext, aad) == ciphertext + tag)
    _expect(_sm4.sm4_gcm_decrypt(key, nonce, ciphertext + tag, aad) == plaintext)
    # The tag must actually be checked: a flipped tag bit and a changed AAD are refused.
    bad_tag = ciphertext + tag[:-1] + bytes((tag[-1] ^ 1,))
    _expect(_rejects(lambda: _sm4.sm4_gcm_decrypt(key, nonce, bad_tag, aad), Exception))
    _expect(_rejects(lambda: _sm4.sm4_gcm_decrypt(key, nonce, ciphertext + tag, b""), Exception))


def _check_sm2() -> None:
    _expect(_sm2.sm2_za(SM2_PUBLIC, _sm2.SM2_USER_ID) == SM2_ZA)
    public = _sm2.Sm2PublicKey.from_uncompressed(SM2_PUBLIC)
    annex_a = _sm2.signature_raw_to_der(SM2_R + SM2_S)
    public.verify(annex_a, SM2_MESSAGE)  # proves Tongsuo's implicit ID is SM2_USER_ID
    _expect(_rejects(lambda: public.verify(annex_a, SM2_MESSAGE + b"!"), SignatureInvalid))
    private = _sm2.Sm2PrivateKey.from_private_value(SM2_D)
    _expect(private.public_key().uncompressed() == SM2_PUBLIC)
    signature = private.sign(SM2_MESSAGE)
    public.verify(signature, SM2_MESSAGE)
    _expect(_rejects(lambda: public.verify(signature, b"message digesT"), SignatureInvalid))


CHECKS: Final[tuple[tuple[str, Callable[[], None]], ...]] = (
    ("SM3", _check_sm3),
    ("HMAC-SM3", _check_hmac_sm3),
    ("SM4", _check_sm4),
    ("SM4-GCM", _check_sm4_gcm),
    ("SM2", _check_sm2),
)


def run_self_tests() -> None:
    """Run every known-answer test; raise :class:`SelfTestFailed` naming the first failure."""
    for name, check in CHECKS:
        try:
            check()
        except Exception as exc:  # any failure, including an exception, fails the primitive
            raise SelfTestFailed(
                f"Known-answer self-test failed for {name}; refusing to start.",
                details={"primitive": name},
            ) from exc
