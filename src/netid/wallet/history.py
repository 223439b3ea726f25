"""``GET /v1/me/history`` checked before it is shown: each entry's RFC 9162 inclusion proof
against the checkpoint returned with it (:mod:`netid.crypto.merkle`).

An entry whose proof does not lead to the checkpoint's root is shown marked unverified, never
silently: the person then knows that this line is not proven to be in the log everybody can
audit. With the platform's log verifier keys (``netid keys export-public`` → ``log``), the
checkpoint's signature is checked too; without them the checkpoint is only parsed (the proof
then shows the entry is in *that* tree, and an auditor's witness shows the tree is the log).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netid.credentials.jws import loads_object
from netid.crypto.errors import CryptoError
from netid.crypto.merkle import HASHES, TreeHasher, verify_inclusion
from netid.crypto.notes import Checkpoint, NoteVerifier, open_checkpoint, parse_checkpoint
from netid.wallet.errors import ServerAnswerInvalid


@dataclass(frozen=True)
class HistoryEntry:
    index: int | None
    entry: dict[str, Any]
    verified: bool
    reason: str | None = None  # why not verified

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "verified": self.verified,
            "reason": self.reason,
            "entry": self.entry,
        }


@dataclass(frozen=True)
class VerifiedHistory:
    tree_size: int | None
    checkpoint_signed: bool | None  # None: no verifier keys given
    entries: list[HistoryEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "checkpoint_signature_verified": self.checkpoint_signed,
            "verified": sum(1 for e in self.entries if e.verified),
            "unverified": sum(1 for e in self.entries if not e.verified),
            "entries": [e.to_json() for e in self.entries],
        }


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _note_body(note: str) -> str:
    # signed-note: the text, a blank line, then the signature lines.
    text, sep, _ = note.partition("\n\n")
    if not sep:
        raise ValueError("no signature block")
    return text + "\n"


def _checkpoint(
    given: object, verifiers: Sequence[NoteVerifier]
) -> tuple[Checkpoint | None, bool | None]:
    # ``{"tree_size", "root_hash", "note"}`` (netid.audit); the signed note is what counts.
    note = given.get("note") if isinstance(given, Mapping) else given
    if not isinstance(note, str):
        return None, None
    try:
        if verifiers:
            checkpoint, names = open_checkpoint(note, verifiers)
            return checkpoint, bool(names)
        return parse_checkpoint(_note_body(note)), None
    except (CryptoError, ValueError):
        return None, False if verifiers else None


def _hashers(answer: Mapping[str, Any]) -> tuple[TreeHasher, ...]:
    # The log's tree hash is SM3 unless it was created with SHA-256 (DESIGN.md "Tree hash");
    # the answer does not say which, so a proof may hold under either: the checkpoint's root
    # is fixed, and a path leading to it under one of them proves the leaf is in that tree.
    named = answer.get("hash_alg", answer.get("hash"))  # netid.citizens says "hash_alg"
    if isinstance(named, str) and named in HASHES:
        return (TreeHasher(named),)
    return tuple(TreeHasher(name) for name in HASHES)


def verify_history(answer: Any, verifiers: Sequence[NoteVerifier] = ()) -> VerifiedHistory:
    """Check every entry of a history answer (``GET /v1/me/history``) against its checkpoint."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("entries"), list):
        raise ServerAnswerInvalid(details={"expected": ["entries"]})
    hashers = _hashers(answer)
    checkpoint, signed = _checkpoint(answer.get("checkpoint"), verifiers)
    entries = []
    for item in answer["entries"]:
        if not isinstance(item, Mapping):
            entries.append(HistoryEntry(None, {}, False, "malformed"))
            continue
        shown = item.get("entry")
        entry = dict(shown) if isinstance(shown, Mapping) else {}
        canonical = item.get("canonical")
        if isinstance(canonical, str):
            # Show what the leaf proves, not what the server says beside it. Strict JSON: a
            # duplicate member would let the text shown differ from what another parser reads.
            try:
                parsed: dict[str, Any] | None = loads_object(canonical.encode("utf-8"))
            except (ValueError, UnicodeEncodeError):
                parsed = None
            if parsed is None:
                entries.append(HistoryEntry(None, {}, False, "malformed"))
                continue
            parsed.pop("subject_ref", None)
            entry = parsed
        index = item.get("index")
        index = index if type(index) is int else None
        entries.append(_verified(hashers, checkpoint, signed, item, index, entry))
    return VerifiedHistory(
        tree_size=checkpoint.size if checkpoint else None,
        checkpoint_signed=signed,
        entries=entries,
    )


def _verified(
    hashers: Sequence[TreeHasher],
    checkpoint: Checkpoint | None,
    signed: bool | None,
    item: Mapping[str, Any],
    index: int | None,
    entry: dict[str, Any],
) -> HistoryEntry:
    if signed is False:
        return HistoryEntry(index, entry, False, "checkpoint_signature")
    if checkpoint is None:
        return HistoryEntry(index, entry, False, "no_checkpoint")
    if index is not None and index >= checkpoint.size:
        # Logged after the latest checkpoint: provable once the next one is cut (seconds).
        return HistoryEntry(index, entry, False, "after_checkpoint")
    leaf = _b64(item.get("leaf_hash"))
    # ``inclusion_proof``: ``{"index", "tree_size", "leaf_hash", "hashes"}`` (netid.audit).
    given = item.get("inclusion_proof")
    if index is None or leaf is None or not isinstance(given, Mapping):
        return HistoryEntry(index, entry, False, "malformed")
    hashes = given.get("hashes")
    proof = [_b64(p) for p in hashes] if isinstance(hashes, list) else [None]
    path = [p for p in proof if p is not None]
    if len(path) != len(proof) or given.get("index") != index:
        return HistoryEntry(index, entry, False, "malformed")
    if given.get("tree_size") != checkpoint.size:
        return HistoryEntry(index, entry, False, "tree_size")
    canonical = item.get("canonical")
    if not isinstance(canonical, str):
        # Without the leaf's own bytes the proof shows that *some* leaf is in the tree, not
        # that it is the entry shown beside it: nothing about that entry is proven.
        return HistoryEntry(index, entry, False, "no_canonical")
    reason = "leaf_hash"
    for hasher in hashers:
        # The leaf is recomputed from the entry's bytes, not taken on trust.
        if hasher.leaf(canonical.encode("utf-8")) != leaf:
            continue
        reason = "inclusion"
        if verify_inclusion(hasher, index, checkpoint.size, leaf, path, checkpoint.root):
            return HistoryEntry(index, entry, True)
    return HistoryEntry(index, entry, False, reason)
