"""C2SP signed notes and tlog checkpoints: Go sumdb/note known answers, SM2 checkpoint vector,
strict parsing, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import gmalg
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from netid.crypto.errors import CryptoError, InvalidKeyMaterial, NoteInvalid
from netid.crypto.merkle import TreeHasher, root
from netid.crypto.notes import (
    Checkpoint,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    NoteVerifier,
    Sm2NoteSigner,
    Sm2NoteVerifier,
    checkpoint_body,
    key_id,
    open_checkpoint,
    open_note,
    open_note_verifiers,
    parse_checkpoint,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
)
from netid.crypto.sm2 import SM2_USER_ID, Sm2PrivateKey

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "notes_c2sp.json").read_text(encoding="utf-8")
)
MERKLE = json.loads((Path(__file__).parent / "vectors" / "merkle_rfc9162.json").read_text())
GO = VECTORS["go_sumdb_note"]
CP = VECTORS["checkpoint"]


def _go_signer() -> Ed25519NoteSigner:
    # PRIVATE+KEY+<name>+<keyid>+base64(0x01 || 32-byte seed); the base64 may contain '+'.
    _, _, name, kid, key64 = GO["skey"].split("+", 4)
    typed = base64.b64decode(key64)
    assert typed[0] == 0x01 and kid == "c74f20a3"
    return Ed25519NoteSigner(name, ed25519.Ed25519PrivateKey.from_private_bytes(typed[1:]))


def _cp_signers() -> tuple[Sm2NoteSigner, Ed25519NoteSigner]:
    sm2 = Sm2NoteSigner(
        CP["origin"], Sm2PrivateKey.from_private_value(bytes.fromhex(CP["sm2_private_key_hex"]))
    )
    ed = Ed25519NoteSigner(
        CP["origin"],
        ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(CP["ed25519_seed_hex"])),
    )
    return sm2, ed


# --- Go sumdb/note known answers ----------------------------------------------------------


def test_go_vkey_key_id_is_recomputed() -> None:
    name, kid_hex, key64 = GO["vkey"].split("+", 2)
    typed = base64.b64decode(key64)
    assert typed[0] == 0x01 and len(typed) == 33
    # signed-note: key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]
    assert hashlib.sha256(name.encode() + b"\n" + typed).digest()[:4].hex() == kid_hex
    assert key_id(name, typed).hex() == "c74f20a3"
    verifier = parse_verifier_key(GO["vkey"])
    assert isinstance(verifier, Ed25519NoteVerifier)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id == bytes.fromhex("c74f20a3")
    assert verifier.verifier_key_line() == GO["vkey"]


def test_go_note_verifies_and_is_reproduced_byte_for_byte() -> None:
    verifier = parse_verifier_key(GO["vkey"])
    text, names = open_note(GO["note"], [verifier])
    assert text == GO["text"]
    assert names == ["PeterNeumann"]
    signer = _go_signer()
    assert signer.key_id == verifier.key_id
    assert signer.verifier_key_line() == GO["vkey"]
    # Ed25519 is deterministic (RFC 8032): our note equals Go's exactly.
    assert sign_note(GO["text"], [signer]) == GO["note"]


def test_go_open_cases() -> None:
    peter = parse_verifier_key(GO["vkey"])
    enoch = parse_verifier_key(GO["enoch_vkey"])
    text = GO["text"]
    peter_sig = GO["note"][len(text) + 1 :]
    enoch_sig = GO["enoch_signature_line"]
    both = text + "\n" + peter_sig + enoch_sig
    # One known, one unknown: the unknown is ignored.
    assert open_note(both, [peter]) == (text, ["PeterNeumann"])
    assert open_note(both, [enoch]) == (text, ["EnochRoot"])
    assert open_note(both, [peter, enoch]) == (text, ["PeterNeumann", "EnochRoot"])
    _, objects = open_note_verifiers(both, [enoch, peter])
    assert objects == [peter, enoch]
    # None known.
    with pytest.raises(NoteInvalid):
        open_note(both, [])
    # A verifier configured twice (as distinct objects) for a key that signed: ambiguous.
    enoch_again = parse_verifier_key(GO["enoch_vkey"])
    with pytest.raises(NoteInvalid):
        open_note(text + "\n" + enoch_sig, [enoch, peter, enoch_again])
    # ... but harmless when that key did not sign.
    assert open_note(text + "\n" + peter_sig, [enoch, peter, enoch_again])[1] == ["PeterNeumann"]
    # Repeated signatures by one key count once.
    assert open_note(text + "\n" + peter_sig * 3, [peter])[1] == ["PeterNeumann"]
    # Too many signature lines.
    with pytest.raises(NoteInvalid):
        open_note(text + "\n" + peter_sig * 101, [peter])
    # A known key whose signature does not verify rejects the whole note.
    with pytest.raises(NoteInvalid):
        open_note(text + "\n" + peter_sig[:60] + "ABCD" + peter_sig[60:], [peter])
    # Malformed notes (Go's badMsgs).
    for bad in [
        text,
        text + "\n",
        text + "\n" + peter_sig[:-1],
        "\x01" + text + "\n" + peter_sig,
        text + "\n" + "— Bad Name " + peter_sig.split(" ")[-1],
        text + "\n" + peter_sig + "Unexpected line.\n",
        text + "\n" + "- PeterNeumann " + peter_sig.split(" ")[-1],  # ASCII hyphen
        text + "\n" + "— PeterNeumann\n",
        text + "\n" + "— PeterNeumann AAAA\n",  # key ID with no signature
        text + "\n" + peter_sig.replace("=\n", "\n"),  # unpadded base64
        text.replace("\n", "\r\n", 1) + "\n" + peter_sig,
    ]:
        with pytest.raises(NoteInvalid):
            open_note(bad, [peter])


def test_go_verifier_key_manglings_are_refused() -> None:
    vkey = GO["vkey"]
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(InvalidKeyMaterial):
                    parse_verifier_key(vkey[i:j])
    for i in range(len(vkey)):
        mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        with pytest.raises(InvalidKeyMaterial):
            parse_verifier_key(mangled)
    # Wrong length key with adjusted key hash; unknown algorithm with adjusted key hash.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case hex
    ]:
        with pytest.raises(InvalidKeyMaterial):
            parse_verifier_key(bad)


# --- the SM2 + Ed25519 checkpoint vector --------------------------------------------------


def test_checkpoint_vector_body_and_root() -> None:
    hasher = TreeHasher("sm3")
    leaves = [hasher.leaf(bytes.fromhex(x)) for x in MERKLE["leaves_hex"]]
    assert root(hasher, leaves).hex() == CP["root_hex"]
    assert checkpoint_body(CP["origin"], CP["size"], bytes.fromhex(CP["root_hex"])) == CP["body"]
    assert CP["note"].startswith(CP["body"] + "\n— ")
    assert parse_checkpoint(CP["body"]) == Checkpoint(
        CP["origin"], CP["size"], bytes.fromhex(CP["root_hex"])
    )


def test_checkpoint_vector_key_ids_are_what_the_docs_say() -> None:
    sm2, ed = _cp_signers()
    name = CP["origin"].encode()
    point = sm2.verifier()._key.uncompressed()
    assert len(point) == 65 and point[0] == 0x04
    # SHA-256(name || 0x0A || 0xFF || "sm2-sm3" || 0x04 || X || Y)[:4]
    expected_sm2 = hashlib.sha256(name + b"\n" + b"\xff" + b"sm2-sm3" + point).digest()[:4]
    assert sm2.key_id == expected_sm2
    assert sm2.key_id.hex() == CP["sm2_key_id_hex"]
    assert sm2.verifier_key_line() == CP["sm2_vkey"]
    raw = ed.verifier()._key.public_bytes_raw()
    assert ed.key_id == hashlib.sha256(name + b"\n" + b"\x01" + raw).digest()[:4]
    assert ed.key_id.hex() == CP["ed25519_key_id_hex"]
    assert ed.verifier_key_line() == CP["ed25519_vkey"]
    assert isinstance(parse_verifier_key(CP["sm2_vkey"]), Sm2NoteVerifier)
    assert parse_verifier_key(CP["sm2_vkey"]).key_id == sm2.key_id


def test_checkpoint_vector_verifies_with_each_key() -> None:
    sm2 = parse_verifier_key(CP["sm2_vkey"])
    ed = parse_verifier_key(CP["ed25519_vkey"])
    expected = Checkpoint(CP["origin"], CP["size"], bytes.fromhex(CP["root_hex"]))
    assert open_checkpoint(CP["note"], [sm2]) == (expected, [CP["origin"]])
    assert open_checkpoint(CP["note"], [ed]) == (expected, [CP["origin"]])
    assert open_checkpoint(CP["note"], [sm2, ed], origin=CP["origin"]) == (
        expected,
        [CP["origin"], CP["origin"]],
    )
    _, objects = open_note_verifiers(CP["note"], [ed, sm2])
    assert objects == [sm2, ed]  # note order
    with pytest.raises(NoteInvalid):
        open_checkpoint(CP["note"], [sm2], origin="other.example/log")


def test_checkpoint_vector_sm2_signature_verifies_in_gmalg() -> None:
    """Independent check of the SM2 line: gmalg (pure Python, explicit user ID)."""
    line = CP["note"].split("\n")[-3]
    name, blob64 = line[2:].split(" ")
    blob = base64.b64decode(blob64)
    assert name == CP["origin"] and blob[:4].hex() == CP["sm2_key_id_hex"]
    r, s = decode_dss_signature(blob[4:])
    point = base64.b64decode(CP["sm2_vkey"].split("+", 2)[2])[len(b"\xffsm2-sm3") :]
    oracle = gmalg.SM2(pk=point, uid=SM2_USER_ID)
    body = CP["body"].encode()
    assert oracle.verify(body, r.to_bytes(32, "big"), s.to_bytes(32, "big"))
    assert not oracle.verify(
        body.replace(b"\n8\n", b"\n9\n"), r.to_bytes(32, "big"), s.to_bytes(32, "big")
    )


def test_checkpoint_vector_ed25519_line_is_reproduced() -> None:
    _, ed = _cp_signers()
    ed_line = CP["note"].split("\n")[-2] + "\n"
    assert sign_note(CP["body"], [ed]) == CP["body"] + "\n" + ed_line


def _replace_line(note: str, index: int, line: str) -> str:
    lines = note.split("\n")
    lines[index] = line
    return "\n".join(lines)


def _flip_signature_char(note: str, line_index: int) -> str:
    """Change one base64 character well inside the signature (past the 4-byte key ID)."""
    lines = note.split("\n")
    prefix, blob = lines[line_index].rsplit(" ", 1)
    pos = 20
    blob = blob[:pos] + ("A" if blob[pos] != "A" else "B") + blob[pos + 1 :]
    lines[line_index] = f"{prefix} {blob}"
    return "\n".join(lines)


def test_tampered_checkpoint_fields_are_rejected() -> None:
    sm2 = parse_verifier_key(CP["sm2_vkey"])
    ed = parse_verifier_key(CP["ed25519_vkey"])
    note = CP["note"]
    other_root = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    for bad in [
        _replace_line(note, 1, "9"),  # size
        _replace_line(note, 1, "7"),
        _replace_line(note, 2, other_root),  # root
        _replace_line(note, 0, "id.example.test/audit-log2"),  # origin
        _replace_line(note, 0, "id.example.test/other-log"),
    ]:
        assert bad != note
        for verifiers in ([sm2], [ed], [sm2, ed]):
            with pytest.raises(NoteInvalid):
                open_checkpoint(bad, verifiers)
    # A changed signature: rejected by every verifier set that holds the key.
    sm2_line, ed_line = len(note.split("\n")) - 3, len(note.split("\n")) - 2
    for bad, holding in [
        (_flip_signature_char(note, sm2_line), ([sm2], [sm2, ed])),
        (_flip_signature_char(note, ed_line), ([ed], [sm2, ed])),
    ]:
        for verifiers in holding:
            with pytest.raises(NoteInvalid):
                open_checkpoint(bad, verifiers)
    # The untouched line still verifies alone: the other key's damage is invisible to it
    # (signed-note: signatures by unknown keys are ignored).
    assert open_checkpoint(_flip_signature_char(note, ed_line), [sm2])[1] == [CP["origin"]]


_SM2_LINE_END = CP["note"].index("\n", len(CP["body"]) + 1) + 1


@given(
    position=st.integers(min_value=0, max_value=_SM2_LINE_END - 1),
    replacement=st.sampled_from(["A", "z", "0", "9", "+", "/", "=", " ", "\n", "—", "-", "é"]),
)
def test_any_change_to_body_or_sm2_line_is_rejected(position: int, replacement: str) -> None:
    note = CP["note"]
    if note[position] == replacement:
        replacement = "B"
    bad = note[:position] + replacement + note[position + 1 :]
    with pytest.raises(NoteInvalid):
        open_note(bad, [parse_verifier_key(CP["sm2_vkey"])])


# --- round trips with fresh keys ----------------------------------------------------------


def test_round_trip_with_fresh_keys_and_unknown_signers() -> None:
    origin = "log.example.test/x"
    sm2 = Sm2NoteSigner(origin, Sm2PrivateKey.generate())
    ed = Ed25519NoteSigner(origin, ed25519.Ed25519PrivateKey.generate())
    stranger = Ed25519NoteSigner("stranger.example", ed25519.Ed25519PrivateKey.generate())
    cp = Checkpoint(origin, 0, TreeHasher("sha256").empty())
    note = sign_checkpoint(cp, [stranger, sm2, ed])
    assert note.count("\n— ") == 3
    verifiers: list[NoteVerifier] = [sm2.verifier(), ed.verifier()]
    assert open_checkpoint(note, verifiers) == (cp, [origin, origin])
    assert open_checkpoint(note, [parse_verifier_key(ed.verifier_key_line())])[1] == [origin]
    with pytest.raises(NoteInvalid):
        open_checkpoint(
            note, [Ed25519NoteVerifier(origin, ed25519.Ed25519PrivateKey.generate().public_key())]
        )
    # SM2 signatures are randomised; both verify.
    assert sign_note(cp_text := checkpoint_body(origin, 1, bytes(32)), [sm2]) != sign_note(
        cp_text, [sm2]
    )
    # A same-name verifier of the other algorithm does not accept a signature made for it.
    assert not sm2.verifier().verify("x\n", ed.sign("x\n"))
    assert not ed.verifier().verify("x\n", sm2.sign("x\n"))
    assert issubclass(NoteInvalid, CryptoError)


def test_sign_note_refuses_bad_text_and_names() -> None:
    signer = _go_signer()
    for text in ["", "abc", "a\x00b\n", "tab\there\n", "\ud800\n"]:
        with pytest.raises(ValueError, match="note text"):
            sign_note(text, [signer])
    with pytest.raises(ValueError, match="signer"):
        sign_note("a\n", [])
    key = ed25519.Ed25519PrivateKey.generate()
    for name in ["", "a b", "a+b", "a\u3000b", "a\nb"]:
        with pytest.raises(ValueError, match="key name"):
            Ed25519NoteSigner(name, key)


# --- checkpoint parsing -------------------------------------------------------------------

_ROOT64 = base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    "text",
    [
        f"o.example\n0\n{_ROOT64}\n",
        f"o.example\n18446744073709551615\n{_ROOT64}\n",
        f"o.example\n5\n{_ROOT64}\next one\nanother\n",
        f"日志.example/审计\n7\n{_ROOT64}\n",
    ],
)
def test_parse_checkpoint_accepts(text: str) -> None:
    cp = parse_checkpoint(text)
    assert cp.root == bytes(range(32))
    assert text.startswith(checkpoint_body(cp.origin, cp.size, cp.root))


@pytest.mark.parametrize(
    "text",
    [
        f"o.example\n5\n{_ROOT64}",  # no final newline
        "o.example\n5\n",
        f"\n5\n{_ROOT64}\n",  # empty origin
        f"o example\n5\n{_ROOT64}\n",
        f"o+example\n5\n{_ROOT64}\n",
        f"o.example\n05\n{_ROOT64}\n",  # leading zero
        f"o.example\n00\n{_ROOT64}\n",
        f"o.example\n+5\n{_ROOT64}\n",
        f"o.example\n-5\n{_ROOT64}\n",
        f"o.example\n 5\n{_ROOT64}\n",
        f"o.example\n5 \n{_ROOT64}\n",
        f"o.example\n\n{_ROOT64}\n",
        "o.example\n\u0665\n" + _ROOT64 + "\n",  # Arabic-Indic digit five
        f"o.example\n18446744073709551616\n{_ROOT64}\n",  # 2**64
        f"o.example\n5\n{_ROOT64.rstrip('=')}\n",  # unpadded
        f"o.example\n5\n{base64.urlsafe_b64encode(bytes([251] * 32)).decode()}\n",  # url alphabet
        f"o.example\n5\n{base64.b64encode(bytes(31)).decode()}\n",  # 31 bytes
        f"o.example\n5\n{base64.b64encode(bytes(33)).decode()}\n",
        f"o.example\n5\n{_ROOT64[:-2]}B=\n",  # non-canonical trailing bits
        f"o.example\n5\n{_ROOT64}\n\n",  # empty extension line
        f"o.example\r\n5\n{_ROOT64}\n",
    ],
)
def test_parse_checkpoint_rejects(text: str) -> None:
    with pytest.raises(NoteInvalid):
        parse_checkpoint(text)


def test_checkpoint_body_refuses_bad_fields() -> None:
    with pytest.raises(ValueError, match="origin"):
        checkpoint_body("a b", 1, bytes(32))
    with pytest.raises(ValueError, match="tree size"):
        checkpoint_body("a", -1, bytes(32))
    with pytest.raises(ValueError, match="tree size"):
        checkpoint_body("a", True, bytes(32))
    with pytest.raises(ValueError, match="root"):
        checkpoint_body("a", 1, bytes(31))


@given(
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
)
def test_checkpoint_body_round_trips(size: int, root_hash: bytes) -> None:
    assert parse_checkpoint(checkpoint_body("o.example/log", size, root_hash)) == Checkpoint(
        "o.example/log", size, root_hash
    )


def test_sm2_verifier_key_manglings_are_refused() -> None:
    vkey = CP["sm2_vkey"]
    assert parse_verifier_key(vkey).verifier_key_line() == vkey
    for i in range(len(vkey)):
        mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        with pytest.raises(InvalidKeyMaterial):
            parse_verifier_key(mangled)
    # An off-curve point with a correctly recomputed key ID is refused by point validation.
    name = CP["origin"]
    typed = base64.b64decode(vkey.split("+", 2)[2])
    off_curve = typed[:-1] + bytes([typed[-1] ^ 1])
    forged = f"{name}+{key_id(name, off_curve).hex()}+{base64.b64encode(off_curve).decode()}"
    with pytest.raises(InvalidKeyMaterial, match="not a point"):
        parse_verifier_key(forged)
    # The identifier is part of the type: another 0xff algorithm name is not SM2.
    other = b"\xffsm2-sm4" + typed[len(b"\xffsm2-sm3") :]
    forged = f"{name}+{key_id(name, other).hex()}+{base64.b64encode(other).decode()}"
    with pytest.raises(InvalidKeyMaterial, match="not supported"):
        parse_verifier_key(forged)
