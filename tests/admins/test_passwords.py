"""Argon2id with the RFC 9106 parameters; NFKC; the dummy hash for unknown users."""

from __future__ import annotations

from netid.admins import passwords


def test_hashes_are_argon2id_with_rfc9106_parameters() -> None:
    stored = passwords.hash_password("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(stored, "a long enough password")
    assert not passwords.verify_password(stored, "a long enough passwordX")
    assert not passwords.verify_password(stored, "A long enough password")  # case kept
    assert not passwords.needs_rehash(stored)
    # a random salt each time
    assert passwords.hash_password("a long enough password") != stored


def test_nfkc_normalisation_and_no_truncation() -> None:
    stored = passwords.hash_password("ｐａｓｓｗｏｒｄ-full-width")
    assert passwords.verify_password(stored, "password-full-width")
    long = "x" * 1000
    assert not passwords.verify_password(passwords.hash_password(long), long[:-1])


def test_weak_or_malformed_hashes_never_verify() -> None:
    weak = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
    assert passwords.needs_rehash(weak)
    assert not passwords.verify_password("not a hash", "anything")
    assert passwords.needs_rehash("not a hash")
    assert passwords.dummy_hash() == passwords.dummy_hash()
    assert passwords.dummy_hash().startswith("$argon2id$")
