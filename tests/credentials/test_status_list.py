"""Token Status List: the draft's known answers, strict decoding, bomb cap, signed tokens."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from netid.credentials import jws, status_list
from netid.credentials.errors import StatusListInvalid, StatusListMalformed, StatusListStale
from netid.crypto import jose_keys
from netid.crypto.jose_keys import b64url_encode

VECTORS = json.loads((Path(__file__).parent / "vectors" / "status_list.json").read_text("utf-8"))
KEY = jose_keys.generate_private_key("EdDSA")
URI = "https://id.example.test/v1/status-lists/abc"
NOW = 1_800_000_000


@pytest.mark.parametrize("vector", VECTORS["examples"], ids=lambda v: v["source"])
def test_section_4_examples(vector: dict[str, Any]) -> None:
    bits, statuses = vector["bits"], vector["statuses"]
    assert status_list.pack(statuses, bits).hex() == vector["bytes_hex"]
    assert status_list.encode(statuses, bits) == vector["lst"]
    decoded = status_list.decode(vector["lst"], bits, len(statuses))
    assert [decoded.status(i) for i in range(len(statuses))] == statuses


@pytest.mark.parametrize("vector", VECTORS["appendix_c"], ids=lambda v: v["source"])
def test_appendix_c_vectors(vector: dict[str, Any]) -> None:
    bits, size = vector["bits"], vector["size"]
    expected = {int(k): v for k, v in vector["set"].items()}
    decoded = status_list.decode(vector["lst"], bits, size)
    assert decoded.size == size
    for idx, value in expected.items():
        assert decoded.status(idx) == value
    statuses = [0] * size
    for idx, value in expected.items():
        statuses[idx] = value
    # Level 9 DEFLATE reproduces the draft's bytes exactly, and so every other entry is VALID.
    assert status_list.encode(statuses, bits) == vector["lst"]


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_round_trip_every_width(bits: int) -> None:
    statuses = [(i * 7 + 3) % (1 << bits) for i in range(1000)]
    decoded = status_list.decode(status_list.encode(statuses, bits), bits, 1000)
    assert [decoded.status(i) for i in range(1000)] == statuses


def test_index_outside_the_list() -> None:
    decoded = status_list.decode(status_list.encode([0] * 16, 2), 2)
    assert decoded.size == 16
    decoded.status(15)
    for idx in (16, -1):
        with pytest.raises(StatusListMalformed):
            decoded.status(idx)


@pytest.mark.parametrize("bits", [0, 3, 16, True])
def test_bits_must_be_1_2_4_or_8(bits: int) -> None:
    with pytest.raises(StatusListMalformed):
        status_list.encode([0], bits)
    with pytest.raises(StatusListMalformed):
        status_list.decode("eNrbuRgAAhcBXQ", bits)


def test_status_too_wide_for_bits() -> None:
    with pytest.raises(ValueError):
        status_list.encode([2], 1)


@pytest.mark.parametrize(
    "lst",
    [
        "",
        "not base64!",
        "eNrbuRgAAhcBXQ==",
        b64url_encode(b"\x01\x02\x03"),  # not zlib
        b64url_encode(zlib.compress(b"\xb9\xa3")[:-2]),  # truncated (no Adler-32)
        b64url_encode(zlib.compress(b"\xb9\xa3") + b"extra"),  # trailing data
        b64url_encode(zlib.compress(b"")),  # empty list
        b64url_encode(zlib.compressobj(9, zlib.DEFLATED, -15).compress(b"\xb9") + b""),  # raw
    ],
)
def test_malformed_lists(lst: str) -> None:
    with pytest.raises(StatusListMalformed):
        status_list.decode(lst, 1)


def test_decompression_bomb_is_capped() -> None:
    bomb = b64url_encode(zlib.compress(b"\0" * (status_list.MAX_LIST_BYTES + 1), 9))
    assert len(bomb) < 2000
    with pytest.raises(StatusListMalformed):
        status_list.decode(bomb, 1)
    status_list.decode(b64url_encode(zlib.compress(b"\0" * 100)), 1, max_bytes=100)
    with pytest.raises(StatusListMalformed):
        status_list.decode(b64url_encode(zlib.compress(b"\0" * 101)), 1, max_bytes=100)


def test_size_larger_than_the_bytes_is_refused() -> None:
    with pytest.raises(StatusListMalformed):
        status_list.decode("eNrbuRgAAhcBXQ", 1, 17)


def _token(**overrides: Any) -> str:
    args: dict[str, Any] = {
        "uri": URI,
        "iat": NOW,
        "exp": NOW + 3600,
        "ttl": 300,
        "lst": status_list.encode([0, 1, 2, 0], 2),
        "bits": 2,
    }
    args.update(overrides)
    return status_list.sign_token(KEY, "k1", **args)


def test_signed_token_round_trip() -> None:
    token = _token()
    header, payload, _, _ = jws.decode_unverified(token)
    assert header == {"alg": "Ed25519", "typ": "statuslist+jwt", "kid": "k1"}
    assert payload == {
        "sub": URI,
        "iat": NOW,
        "exp": NOW + 3600,
        "ttl": 300,
        "status_list": {"bits": 2, "lst": status_list.encode([0, 1, 2, 0], 2)},
    }
    decoded = status_list.verify_token(token, keys={"k1": KEY.public_key()}, uri=URI, now=NOW + 5)
    assert [decoded.status(i) for i in range(4)] == [
        status_list.VALID,
        status_list.INVALID,
        status_list.SUSPENDED,
        status_list.VALID,
    ]


def test_token_for_another_list_is_refused() -> None:
    with pytest.raises(StatusListInvalid):
        status_list.verify_token(_token(), keys={"k1": KEY.public_key()}, uri=URI + "x", now=NOW)


def test_token_expired_or_from_the_future() -> None:
    keys = {"k1": KEY.public_key()}
    long_lived = _token(ttl=7200)  # exp (3600) comes before the ttl runs out
    with pytest.raises(StatusListInvalid):
        status_list.verify_token(long_lived, keys=keys, uri=URI, now=NOW + 3600 + 30)
    status_list.verify_token(long_lived, keys=keys, uri=URI, now=NOW + 3600 + 29)
    with pytest.raises(StatusListInvalid):
        status_list.verify_token(_token(), keys=keys, uri=URI, now=NOW - 31)


def test_token_older_than_its_ttl_is_stale() -> None:
    # The platform's tokens live a day but say ttl 300: a copy kept past 300 s (a file, a
    # cache) would still show a credential as valid after its owner locked it.
    keys = {"k1": KEY.public_key()}
    status_list.verify_token(_token(), keys=keys, uri=URI, now=NOW + 300 + 29)
    with pytest.raises(StatusListStale) as caught:
        status_list.verify_token(_token(), keys=keys, uri=URI, now=NOW + 300 + 30)
    assert caught.value.code == "status_list_stale"
    assert isinstance(caught.value, StatusListInvalid)


def test_token_without_expiry_is_refused() -> None:
    token = jws.sign_compact(
        KEY,
        header={"typ": "statuslist+jwt", "kid": "k1"},
        payload={"sub": URI, "iat": NOW, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}},
    )
    with pytest.raises(StatusListInvalid):
        status_list.verify_token(token, keys={"k1": KEY.public_key()}, uri=URI, now=NOW)


def test_token_signed_by_an_unknown_key() -> None:
    other = jose_keys.generate_private_key("EdDSA").public_key()
    with pytest.raises(StatusListInvalid):
        status_list.verify_token(_token(), keys={"k2": KEY.public_key()}, uri=URI, now=NOW)
    with pytest.raises(StatusListInvalid):
        status_list.verify_token(_token(), keys={"k1": other}, uri=URI, now=NOW)


def test_token_with_wrong_typ() -> None:
    token = jws.sign_compact(
        KEY,
        header={"typ": "JWT", "kid": "k1"},
        payload={"sub": URI, "iat": NOW, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}},
    )
    with pytest.raises(StatusListInvalid):
        status_list.verify_token(token, keys={"k1": KEY.public_key()}, uri=URI, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": URI, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}},  # no iat
        {"sub": URI, "iat": NOW},  # no status_list
        {"sub": URI, "iat": NOW, "status_list": {"bits": 3, "lst": "eNrbuRgAAhcBXQ"}},
        {"sub": URI, "iat": NOW, "status_list": {"bits": 1, "lst": 5}},
        {"sub": URI, "iat": NOW, "ttl": -1, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}},
        {"sub": URI, "iat": "now", "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}},
    ],
)
def test_token_with_malformed_payload(payload: dict[str, Any]) -> None:
    token = jws.sign_compact(KEY, header={"typ": "statuslist+jwt", "kid": "k1"}, payload=payload)
    with pytest.raises(StatusListMalformed):
        status_list.verify_token(token, keys={"k1": KEY.public_key()}, uri=URI, now=NOW)
