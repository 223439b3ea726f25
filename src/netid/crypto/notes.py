"""C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint).

Pure functions, no I/O.

Checkpoint body (tlog-checkpoint), UTF-8, every line ending in ``\\n``::

    <origin>        unique log identity, a schema-less URL; no spaces, no '+'
    <tree size>     ASCII decimal, no leading zeros ("0" for the empty tree)
    <root hash>     standard base64 with padding (RFC 4648 §4) of the RFC 9162 root
    [<extension>]   optional non-empty lines (NOT RECOMMENDED; parsed, never written by us)

Signed note (signed-note §Format): the text, which ends in ``\\n``; one blank line; then one or
more lines ``— <key name> <base64(4-byte key ID || signature)>\\n`` (em dash U+2014, space).
The signature covers the text *including* its final newline and *excluding* the blank line.
The whole note is valid UTF-8 with no control characters other than newline.

Signature types and key IDs (signed-note §Signatures: key ID = SHA-256(key name || 0x0A ||
signature type || public key)[:4], big-endian uint32):

* Ed25519 (type ``0x01``, RFC 8032): key ID = SHA-256(name || 0x0A || 0x01 || 32-byte public
  key)[:4]; interoperable with Go's golang.org/x/mod/sumdb/note and every C2SP witness.
* SM2 with SM3 (type ``0xff`` — "no assigned byte" — followed by the ASCII identifier
  ``sm2-sm3``): the signed bytes are the note text, signed per GM/T 0003.2 with
  e = SM3(ZA || text), ZA computed with the GM/T 0009-2012 default user ID
  ``1234567812345678`` (:data:`netid.crypto.sm2.SM2_USER_ID`); the signature is the DER
  ``SEQUENCE {r, s}`` of GM/T 0009 (70–72 bytes). Exactly what the key ID hashes::

      SHA-256( name_utf8 || 0x0A || 0xFF || b"sm2-sm3" || 0x04 || X(32) || Y(32) )[:4]

  and the vkey "public key" field is base64(0xFF || b"sm2-sm3" || 0x04 || X || Y).

Verifier keys ("vkeys") use Go's sumdb/note text form ``<name>+<8 hex key ID>+<base64(type ||
public key)>`` so auditors can configure verifiers from one line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from netid.crypto.errors import InvalidKeyMaterial, NoteInvalid, SignatureInvalid
from netid.crypto.merkle import HASH_SIZE
from netid.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey

SIG_TYPE_ED25519: Final = 0x01  # signed-note §Signature types
SIG_TYPE_OTHER: Final = 0xFF  # "reserved for signature types without an identifier byte"
SM2_SM3_IDENTIFIER: Final = b"sm2-sm3"
SM2_KEY_PREFIX: Final = bytes([SIG_TYPE_OTHER]) + SM2_SM3_IDENTIFIER

EM_DASH: Final = "\u2014"
SIGNATURE_PREFIX: Final = EM_DASH + " "
MAX_SIGNATURES: Final = 100  # signed-note: MUST accept at least 16; Go's sumdb/note caps at 100
KEY_ID_SIZE: Final = 4
_ED25519_PUBLIC_SIZE: Final = 32
_SM2_POINT_SIZE: Final = 65


def valid_key_name(name: str) -> bool:
    """signed-note §Format: non-empty, no Unicode spaces, no '+' (and no control characters)."""
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in name)
        and _utf8(name) is not None
    )


def _utf8(text: str) -> bytes | None:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return None


def key_id(name: str, typed_public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || signature type || public key)[:4] (signed-note §Signatures)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + typed_public_key).digest()[:KEY_ID_SIZE]


def _vkey(name: str, kid: bytes, typed_public_key: bytes) -> str:
    return f"{name}+{kid.hex()}+{base64.b64encode(typed_public_key).decode('ascii')}"


def _check_name(name: str) -> None:
    if not valid_key_name(name):
        raise ValueError("a note key name is non-empty with no spaces, '+' or control characters")


class NoteSigner(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    def sign(self, text: str) -> bytes: ...
    def verifier_key_line(self) -> str: ...


class NoteVerifier(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    def verify(self, text: str, signature: bytes) -> bool: ...
    def verifier_key_line(self) -> str: ...


_Verifier = TypeVar("_Verifier", bound=NoteVerifier)


class Ed25519NoteVerifier:
    """Verifies Ed25519 (type 0x01) note signatures for one key name."""

    __slots__ = ("_key", "_typed", "key_id", "name")

    def __init__(self, name: str, public_key: ed25519.Ed25519PublicKey) -> None:
        _check_name(name)
        self.name: str = name
        self._key = public_key
        self._typed = bytes([SIG_TYPE_ED25519]) + public_key.public_bytes_raw()
        self.key_id: bytes = key_id(name, self._typed)

    def verify(self, text: str, signature: bytes) -> bool:
        message = _utf8(text)
        if message is None or len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def verifier_key_line(self) -> str:
        return _vkey(self.name, self.key_id, self._typed)


class _NoteSigner(Generic[_Verifier]):
    """What every note signer shares: its verifier gives the name, key ID and vkey line."""

    __slots__ = ("_verifier",)

    def __init__(self, verifier: _Verifier) -> None:
        self._verifier = verifier

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    def verifier(self) -> _Verifier:
        return self._verifier

    def verifier_key_line(self) -> str:
        return self._verifier.verifier_key_line()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.verifier_key_line()!r})"


class Ed25519NoteSigner(_NoteSigner[Ed25519NoteVerifier]):
    """Signs notes with Ed25519 (RFC 8032, deterministic), signature type 0x01."""

    __slots__ = ("_key",)

    def __init__(self, name: str, private_key: ed25519.Ed25519PrivateKey) -> None:
        super().__init__(Ed25519NoteVerifier(name, private_key.public_key()))
        self._key = private_key

    def sign(self, text: str) -> bytes:
        """The 64-byte Ed25519 signature of the UTF-8 text (key ID not included)."""
        return self._key.sign(text.encode("utf-8"))


class Sm2NoteVerifier:
    """Verifies SM2-with-SM3 note signatures (type 0xff || "sm2-sm3") for one key name."""

    __slots__ = ("_key", "_typed", "key_id", "name")

    def __init__(self, name: str, public_key: Sm2PublicKey) -> None:
        _check_name(name)
        self.name: str = name
        self._key = public_key
        self._typed = SM2_KEY_PREFIX + public_key.uncompressed()
        self.key_id: bytes = key_id(name, self._typed)

    def verify(self, text: str, signature: bytes) -> bool:
        message = _utf8(text)
        if message is None:
            return False
        try:
            self._key.verify(signature, message)
        except SignatureInvalid:
            return False
        return True

    def verifier_key_line(self) -> str:
        return _vkey(self.name, self.key_id, self._typed)


class Sm2NoteSigner(_NoteSigner[Sm2NoteVerifier]):
    """Signs notes with SM2/SM3 (GM/T 0003.2, default user ID), DER signature."""

    __slots__ = ("_key",)

    def __init__(self, name: str, private_key: Sm2PrivateKey) -> None:
        super().__init__(Sm2NoteVerifier(name, private_key.public_key()))
        self._key = private_key

    def sign(self, text: str) -> bytes:
        """DER SEQUENCE{r, s} over the UTF-8 text (randomised: differs on every call)."""
        return self._key.sign(text.encode("utf-8"))


def parse_verifier_key(vkey: str) -> Ed25519NoteVerifier | Sm2NoteVerifier:
    """Parse ``name+hexkeyid+base64(type || key)``; the key ID must match the key.

    Raises :class:`InvalidKeyMaterial` for anything malformed or mismatched.
    """
    parts = vkey.split("+", 2) if isinstance(vkey, str) else []
    if len(parts) != 3:
        raise InvalidKeyMaterial("A verifier key is name+keyid+key.")
    name, kid_hex, key_b64 = parts
    if not valid_key_name(name) or len(kid_hex) != 8 or kid_hex != kid_hex.lower():
        raise InvalidKeyMaterial("The verifier key name or key ID is malformed.")
    try:
        kid = bytes.fromhex(kid_hex)
    except ValueError:
        raise InvalidKeyMaterial("The verifier key ID is not hex.") from None
    typed = _b64decode_strict(key_b64)
    if typed is None or not typed:
        raise InvalidKeyMaterial("The verifier key is not canonical base64.")
    verifier: Ed25519NoteVerifier | Sm2NoteVerifier
    if typed[0] == SIG_TYPE_ED25519 and len(typed) == 1 + _ED25519_PUBLIC_SIZE:
        try:
            public = ed25519.Ed25519PublicKey.from_public_bytes(typed[1:])
        except ValueError:
            raise InvalidKeyMaterial("The Ed25519 key is malformed.") from None
        verifier = Ed25519NoteVerifier(name, public)
    elif typed.startswith(SM2_KEY_PREFIX) and len(typed) == len(SM2_KEY_PREFIX) + _SM2_POINT_SIZE:
        verifier = Sm2NoteVerifier(
            name, Sm2PublicKey.from_uncompressed(typed[len(SM2_KEY_PREFIX) :])
        )
    else:
        raise InvalidKeyMaterial("The verifier key type is not supported.")
    if verifier.key_id != kid:
        raise InvalidKeyMaterial("The verifier key ID does not match the key.")
    return verifier


def _b64decode_strict(text: str) -> bytes | None:
    """Standard base64 with padding, canonical only (re-encodes to the same string)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _check_note_characters(text: str) -> bool:
    """Valid UTF-8 and no control characters other than newline (signed-note §Format)."""
    return _utf8(text) is not None and not any(ord(c) < 0x20 and c != "\n" for c in text)


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """The signed note: text, blank line, one signature line per signer (in the given order).

    ``text`` must be non-empty, end in ``\\n`` and contain no control characters other than
    newline; ValueError otherwise (a programming error, not caller input).
    """
    if not isinstance(text, str) or not text.endswith("\n") or not _check_note_characters(text):
        raise ValueError("note text must end in a newline and hold no control characters")
    if not signers:
        raise ValueError("a signed note needs at least one signer")
    lines = []
    for signer in signers:
        _check_name(signer.name)
        blob = base64.b64encode(signer.key_id + signer.sign(text)).decode("ascii")
        lines.append(f"{SIGNATURE_PREFIX}{signer.name} {blob}\n")
    return text + "\n" + "".join(lines)


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> tuple[str, list[str]]:
    """Verify a signed note: ``(text, names of the verifiers whose signature verified)``.

    A name appears once per key that verified, so a log signing with both its Ed25519 and its
    SM2 key under one name gives that name twice; use :func:`open_note_verifiers` to learn
    which keys verified.
    """
    text, verified = open_note_verifiers(note, verifiers)
    return text, [v.name for v in verified]


def open_note_verifiers(
    note: str, verifiers: Sequence[NoteVerifier]
) -> tuple[str, list[NoteVerifier]]:
    """Like :func:`open_note`, returning the verifier objects that verified, in note order.

    Following signed-note §Signatures and Go's sumdb/note ``Open``: signatures from unknown
    keys (no verifier with that name *and* key ID) are ignored; a known key whose signature
    does not verify rejects the whole note; repeated signatures by one key count once; more
    than :data:`MAX_SIGNATURES` lines, any malformed line, or no verified signature at all
    raise :class:`NoteInvalid`.
    """
    if not isinstance(note, str) or not _check_note_characters(note):
        raise NoteInvalid("The note is not valid UTF-8 text without control characters.")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteInvalid("The note has no signature block.")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteInvalid("The note's signature block is malformed.")
    known: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    verified: list[NoteVerifier] = []
    seen: set[tuple[str, bytes]] = set()
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteInvalid("The note carries too many signatures.")
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteInvalid("A signature line is malformed.")
        name, sep, blob_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        blob = _b64decode_strict(blob_b64) if sep else None
        if not valid_key_name(name) or blob is None or len(blob) <= KEY_ID_SIZE:
            raise NoteInvalid("A signature line is malformed.")
        kid, signature = blob[:KEY_ID_SIZE], blob[KEY_ID_SIZE:]
        candidates = known.get((name, kid))
        if not candidates:
            continue  # an unknown key: MUST be ignored
        if len({id(c) for c in candidates}) > 1:
            raise NoteInvalid("Two configured verifiers share a key name and key ID.")
        if (name, kid) in seen:
            continue
        seen.add((name, kid))
        if not candidates[0].verify(text, signature):
            raise NoteInvalid("A signature from a trusted key does not verify.")
        verified.append(candidates[0])
    if not verified:
        raise NoteInvalid("No trusted key signed this note.")
    return text, verified


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed tlog checkpoint: origin, tree size and root hash (plus any extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def _valid_origin(origin: str) -> bool:
    return valid_key_name(origin)


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """``origin\\nsize\\nbase64(root)\\n`` (c2sp.org/tlog-checkpoint). ValueError if malformed."""
    if not _valid_origin(origin):
        raise ValueError("a checkpoint origin is non-empty with no spaces, '+' or controls")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 1 << 64:
        raise ValueError("a tree size is a non-negative integer below 2**64")
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise ValueError("a root hash is 32 bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Strict parse of a checkpoint body (the text of the note); :class:`NoteInvalid` if bad.

    Rejects: a missing final newline, an origin that is empty or has spaces or '+', a size
    with a sign, leading zeros or non-ASCII digits, a root that is not canonical padded
    base64 of 32 bytes, and empty extension lines.
    """
    if not isinstance(text, str) or not text.endswith("\n") or not _check_note_characters(text):
        raise NoteInvalid("A checkpoint is newline-terminated text.")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteInvalid("A checkpoint has an origin, a tree size and a root hash.")
    origin, size_text, root_text, *extensions = lines
    if not _valid_origin(origin):
        raise NoteInvalid("The checkpoint origin is malformed.")
    if not (
        size_text.isascii()
        and size_text.isdigit()
        and (size_text == "0" or not size_text.startswith("0"))
        and len(size_text) <= 20
    ):
        raise NoteInvalid("The checkpoint tree size is malformed.")
    size = int(size_text)
    if size >= 1 << 64:
        raise NoteInvalid("The checkpoint tree size is malformed.")
    root = _b64decode_strict(root_text)
    if root is None or len(root) != HASH_SIZE:
        raise NoteInvalid("The checkpoint root hash is malformed.")
    if any(line == "" for line in extensions):
        raise NoteInvalid("A checkpoint extension line is empty.")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[NoteSigner]) -> str:
    """The signed checkpoint note for ``checkpoint`` (extension lines are not written)."""
    return sign_note(checkpoint_body(checkpoint.origin, checkpoint.size, checkpoint.root), signers)


def open_checkpoint(
    note: str, verifiers: Sequence[NoteVerifier], *, origin: str | None = None
) -> tuple[Checkpoint, list[str]]:
    """Verify a signed checkpoint and parse it; with ``origin``, the origin must equal it.

    Raises :class:`NoteInvalid` for a bad signature block, a bad body or a wrong origin.
    """
    text, names = open_note(note, verifiers)
    checkpoint = parse_checkpoint(text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteInvalid("The checkpoint is for another log.")
    return checkpoint, names
