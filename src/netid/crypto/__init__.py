"""Pure cryptographic primitives (no database, no configuration, no I/O besides os.urandom).

Modules: :mod:`~netid.crypto.sm3` (SM3, HMAC-SM3), :mod:`~netid.crypto.sm4` (SM4, SM4-GCM),
:mod:`~netid.crypto.sealing` (field sealing), :mod:`~netid.crypto.sm2` (SM2 signatures),
:mod:`~netid.crypto.jose_keys` (Ed25519/ES256 JOSE keys), :mod:`~netid.crypto.selftest`
(start-up known-answer tests). Import them directly; this package imports nothing eagerly, so
loading it never pulls in tongsuopy.
"""
