"""The log's public views: proofs (RFC 9162 §2.1.3 / §2.1.4), checkpoints, verify findings."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class RecordedEntry:
    """What :meth:`netid.audit.service.AccessRecorder.record` appended: the access record's
    columns as written. A plain value, not an ORM object (building one costs ≈ 40–70 µs on
    every access; docs/decisions/0007)."""

    id: str
    log_index: int
    recorded_at: dt.datetime
    actor: str
    action: str
    purpose: str | None
    outcome: str
    subject_ref_sealed: bytes | None
    subject_tag: bytes | None
    canonical: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3.1 PATH(index, D[tree_size]), leaf to root."""

    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "hashes": [b64(h) for h in self.hashes],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4.1 PROOF(first, D[second])."""

    first: int
    second: int
    hashes: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first, "second": self.second, "hashes": [b64(h) for h in self.hashes]}


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"tree_size": self.tree_size, "root_hash": b64(self.root_hash), "note": self.note}


@dataclass(frozen=True)
class LogStatus:
    hash_alg: str
    size: int
    root_hash: bytes
    latest_checkpoint: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "hash_alg": self.hash_alg,
            "size": self.size,
            "root_hash": b64(self.root_hash),
            "latest_checkpoint": self.latest_checkpoint,
        }


class FindingKind(StrEnum):
    MISSING = "missing"  # an index with no entry (deleted row, gap)
    OUT_OF_ORDER = "out_of_order"  # rows whose log_index does not follow 0, 1, 2, ...
    ENTRY_INVALID = "entry_invalid"  # canonical bytes that are not a JCS entry object
    INDEX_MISMATCH = "index_mismatch"  # the entry names another index (moved / swapped)
    LEAF_MISMATCH = "leaf_mismatch"  # stored leaf hash != hash of the canonical bytes
    COLUMN_MISMATCH = "column_mismatch"  # a row column disagrees with its canonical entry
    HEAD_MISMATCH = "head_mismatch"  # the head's size/frontier disagree with the entries
    TRUNCATED = "truncated"  # fewer entries than the head or a checkpoint says
    CHECKPOINT_ROOT = "checkpoint_root"  # a stored checkpoint's root != recomputed root
    CHECKPOINT_SIGNATURE = "checkpoint_signature"  # a stored note does not verify / match
    NODE_MISMATCH = "node_mismatch"  # a stored perfect node != recomputed
    WITNESS_ROOT = "witness_root"  # the witnessed root at its size differs: rewritten history
    ROLLBACK = "rollback"  # the witness saw a larger tree than the database holds
    WITNESS_INVALID = "witness_invalid"  # the witness file's checkpoint does not verify


@dataclass(frozen=True)
class Finding:
    index: int | None
    kind: FindingKind
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "kind": self.kind.value}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class VerifyReport:
    hash_alg: str
    size: int = 0
    root_hash: bytes = b""
    checkpoints_checked: int = 0
    witness_size: int | None = None
    findings: list[Finding] = field(default_factory=list)
    truncated_findings: int = 0  # findings beyond the reported limit

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "hash_alg": self.hash_alg,
            "size": self.size,
            "root_hash": b64(self.root_hash),
            "checkpoints_checked": self.checkpoints_checked,
            "witness_size": self.witness_size,
            "findings": [f.to_json() for f in self.findings],
            "more_findings": self.truncated_findings,
        }
