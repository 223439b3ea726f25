"""Field sealing (SEC-36): SM4-GCM with a random 96-bit nonce and AAD bound to the cell."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netid.crypto.errors import SealedValueInvalid, UnknownKey
from netid.crypto.sealing import (
    KEY_ID_LENGTH,
    NONCE_LENGTH,
    TAG_LENGTH,
    SealKey,
    generate_seal_key,
    is_valid_key_id,
    new_key_id,
    open_sealed,
    seal,
    sealed_key_id,
)

KEY = SealKey("k1k1k1k1", bytes(range(16)))
OTHER = SealKey("k2k2k2k2", bytes(range(16, 32)))
KEYS = {KEY.key_id: KEY, OTHER.key_id: OTHER}
CELL = {"table": "person", "column": "name_sealed", "row_id": "0190a1b2c3d4e5f6"}
_HEADER = 1 + KEY_ID_LENGTH
_OVERHEAD = _HEADER + NONCE_LENGTH + TAG_LENGTH


def _flip(data: bytes, bit: int) -> bytes:
    damaged = bytearray(data)
    damaged[bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


def _assert_rejected(sealed: bytes, bit: int) -> None:
    # Bits of the key id may turn it into another *valid* id that we do not hold: UnknownKey.
    # Every other bit must fail authentication.
    expected: tuple[type[Exception], ...] = (SealedValueInvalid,)
    if 1 <= bit // 8 < _HEADER:
        expected = (SealedValueInvalid, UnknownKey)
    with pytest.raises(expected):
        open_sealed(KEYS, _flip(sealed, bit), **CELL)


@pytest.mark.parametrize("plaintext", [b"", b"x", "张三".encode(), bytes(range(256)) * 256])
def test_round_trip(plaintext: bytes) -> None:
    sealed = seal(KEY, plaintext, **CELL)
    assert len(sealed) == len(plaintext) + _OVERHEAD
    assert sealed[0] == 1
    assert sealed[1:_HEADER] == b"k1k1k1k1"
    assert sealed_key_id(sealed) == KEY.key_id
    assert open_sealed(KEYS, sealed, **CELL) == plaintext


def test_round_trip_with_lookup_callable() -> None:
    sealed = seal(KEY, b"v", **CELL)
    assert open_sealed(KEYS.__getitem__, sealed, **CELL) == b"v"


@pytest.mark.parametrize(
    "changed",
    [
        {"table": "person2"},
        {"column": "phones_sealed"},
        {"row_id": "0190a1b2c3d4e5f7"},
        {"row_id": ""},
        {"table": "Person"},
    ],
)
def test_aad_binds_table_column_and_row(changed: dict[str, str]) -> None:
    sealed = seal(KEY, b"secret", **CELL)
    with pytest.raises(SealedValueInvalid):
        open_sealed(KEYS, sealed, **(CELL | changed))


def test_aad_encoding_is_injective() -> None:
    # "a|b" + "c" and "a" + "b|c" would collide under a plain "|" join.
    sealed = seal(KEY, b"v", table="a|b", column="c", row_id="r")
    with pytest.raises(SealedValueInvalid):
        open_sealed(KEYS, sealed, table="a", column="b|c", row_id="r")
    sealed = seal(KEY, b"v", table="t", column="c", row_id="r|x")
    with pytest.raises(SealedValueInvalid):
        open_sealed(KEYS, sealed, table="t", column="c|r", row_id="x")


def test_wrong_key_under_the_same_id_fails() -> None:
    sealed = seal(KEY, b"secret", **CELL)
    impostor = SealKey(KEY.key_id, bytes(16))
    with pytest.raises(SealedValueInvalid):
        open_sealed({KEY.key_id: impostor}, sealed, **CELL)


def test_lookup_returning_a_key_with_another_id_fails() -> None:
    sealed = seal(KEY, b"secret", **CELL)
    with pytest.raises(SealedValueInvalid):
        open_sealed(lambda _key_id: OTHER, sealed, **CELL)


def test_relabelled_key_id_fails_even_with_the_same_secret() -> None:
    # The key id is in the AAD: renaming a value to another id fails although the bytes of the
    # secret are identical (a re-labelled or duplicated key cannot be used to launder values).
    twin = SealKey("twin0000", KEY.secret)
    sealed = seal(KEY, b"secret", **CELL)
    relabelled = sealed[:1] + b"twin0000" + sealed[_HEADER:]
    assert sealed_key_id(relabelled) == "twin0000"
    with pytest.raises(SealedValueInvalid):
        open_sealed({KEY.key_id: KEY, twin.key_id: twin}, relabelled, **CELL)


def test_every_single_bit_flip_is_rejected() -> None:
    sealed = seal(KEY, b"11010519491231002X", **CELL)
    for bit in range(len(sealed) * 8):
        _assert_rejected(sealed, bit)


def test_ten_thousand_random_bit_flips_are_rejected() -> None:
    # SEC-36 acceptance: 10k random bit flips, 100 % rejected.
    rng = random.Random(36)
    sealed_values = [seal(KEY, rng.randbytes(rng.randrange(0, 64)), **CELL) for _ in range(100)]
    for _ in range(10_000):
        sealed = rng.choice(sealed_values)
        _assert_rejected(sealed, rng.randrange(len(sealed) * 8))


@settings(max_examples=200)
@given(plaintext=st.binary(max_size=200), data=st.data())
def test_bit_flips_on_random_values_are_rejected(plaintext: bytes, data: st.DataObject) -> None:
    sealed = seal(KEY, plaintext, **CELL)
    bit = data.draw(st.integers(min_value=0, max_value=len(sealed) * 8 - 1))
    _assert_rejected(sealed, bit)


def test_equal_plaintexts_give_different_ciphertexts() -> None:
    a = seal(KEY, b"11010519491231002X", **CELL)
    b = seal(KEY, b"11010519491231002X", **CELL)
    assert a != b
    assert a[_HEADER : _HEADER + NONCE_LENGTH] != b[_HEADER : _HEADER + NONCE_LENGTH]
    assert a[_HEADER + NONCE_LENGTH :] != b[_HEADER + NONCE_LENGTH :]


def test_hundred_thousand_nonces_are_distinct() -> None:
    nonces = {seal(KEY, b"", **CELL)[_HEADER : _HEADER + NONCE_LENGTH] for _ in range(100_000)}
    assert len(nonces) == 100_000


def test_unknown_key() -> None:
    sealed = seal(KEY, b"secret", **CELL)
    with pytest.raises(UnknownKey) as excinfo:
        open_sealed({OTHER.key_id: OTHER}, sealed, **CELL)
    assert excinfo.value.details == {"key_id": KEY.key_id}

    def lookup(key_id: str) -> SealKey:
        raise KeyError(key_id)

    with pytest.raises(UnknownKey):
        open_sealed(lookup, sealed, **CELL)


def test_lookup_failures_other_than_missing_key_propagate() -> None:
    sealed = seal(KEY, b"secret", **CELL)

    def lookup(key_id: str) -> SealKey:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        open_sealed(lookup, sealed, **CELL)


def test_every_truncation_is_rejected() -> None:
    sealed = seal(KEY, b"11010519491231002X", **CELL)
    for length in range(len(sealed)):
        with pytest.raises(SealedValueInvalid):
            open_sealed(KEYS, sealed[:length], **CELL)
    with pytest.raises(SealedValueInvalid):
        open_sealed(KEYS, sealed + b"\x00", **CELL)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x01",
        b"\x00" * 64,
        b"\x02k1k1k1k1" + bytes(40),  # unknown version
        b"\x01K1K1K1K1" + bytes(40),  # key id outside [0-9a-z]
        b"\x01\xff\xfe\x00k1k1k" + bytes(40),  # key id not ASCII
        b"\x01k1k1k1k1" + bytes(27),  # one byte short of nonce + tag
    ],
)
def test_garbage_is_rejected(garbage: bytes) -> None:
    with pytest.raises(SealedValueInvalid):
        open_sealed(KEYS, garbage, **CELL)


@settings(max_examples=300)
@given(garbage=st.binary(max_size=120))
def test_arbitrary_bytes_only_ever_raise_sealed_value_invalid(garbage: bytes) -> None:
    with pytest.raises(SealedValueInvalid):
        open_sealed(KEYS, b"\x01k1k1k1k1" + garbage, **CELL)
    try:
        open_sealed(KEYS, garbage, **CELL)
    except (SealedValueInvalid, UnknownKey):
        pass
    else:  # pragma: no cover
        pytest.fail("garbage opened")


def test_seal_key_validation_and_repr() -> None:
    with pytest.raises(ValueError):
        SealKey("short", bytes(16))
    with pytest.raises(ValueError):
        SealKey("UPPERCAS", bytes(16))
    with pytest.raises(ValueError):
        SealKey("k1k1k1k1\n", bytes(16))
    with pytest.raises(ValueError):
        SealKey("k1k1k1k1", bytes(15))
    key = SealKey("k1k1k1k1", b"\xaa" * 16)
    assert repr(key) == "SealKey(key_id='k1k1k1k1')"


def test_key_ids_and_generated_keys() -> None:
    ids = {new_key_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_valid_key_id(i) for i in ids)
    assert not is_valid_key_id("abcdefg")
    assert not is_valid_key_id("abcdefgh\n")
    key = generate_seal_key()
    assert is_valid_key_id(key.key_id)
    assert len(key.secret) == 16
    assert generate_seal_key("fixed000").key_id == "fixed000"
    assert generate_seal_key().secret != generate_seal_key().secret
