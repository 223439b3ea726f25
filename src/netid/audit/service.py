"""Writing access records, which are the transparency log's entries (issue 4 §1).

Every :meth:`AccessRecorder.record` is an append in the caller's transaction (no entry, no
access): the log head is locked, the entry gets the next index, its canonical (RFC 8785 JCS)
encoding is hashed into the leaf hash H(0x00 || entry) (RFC 9162 §2.1.1), the perfect subtree
nodes the append completes are stored, and the head moves on. Concurrent writers therefore
never share an index or leave a gap; a rolled-back transaction takes its index back with it.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy.orm import Session

from netid.audit.errors import (
    EntryNotFound,
    InvalidProofRequest,
    LogAlreadyCreated,
    LogInconsistent,
    NoCheckpoint,
    WitnessInvalid,
)
from netid.audit.models import LogCheckpoint
from netid.audit.repository import LogRepository
from netid.audit.schemas import (
    Checkpoint,
    ConsistencyProof,
    Finding,
    FindingKind,
    InclusionProof,
    LogStatus,
    RecordedEntry,
    VerifyReport,
    b64,
)
from netid.core.clock import Clock
from netid.core.ids import new_row_id
from netid.crypto.errors import CryptoError, NoteInvalid
from netid.crypto.merkle import (
    HASHES,
    Frontier,
    TreeHasher,
    append,
    consistency_proof,
    consistency_proof_nodes,
    frontier_root,
    inclusion_proof,
    inclusion_proof_nodes,
    range_hash,
    range_nodes,
    verify_consistency,
)
from netid.crypto.notes import Checkpoint as NoteCheckpoint
from netid.crypto.notes import NoteSigner, NoteVerifier, checkpoint_body, open_checkpoint, sign_note
from netid.crypto.sealing import SealKey, open_sealed, seal
from netid.crypto.sm3 import hmac_sm3

DEFAULT_HASH = "sm3"
_HASHERS = {name: TreeHasher(name) for name in HASHES}


def tree_hasher(name: str) -> TreeHasher:
    try:
        return _HASHERS[name]
    except KeyError:
        raise ValueError(f"unknown tree hash {name!r}") from None


def canonical_json(entry: dict[str, Any]) -> bytes:
    """RFC 8785 (JCS) encoding for the value types our entries use (str, int, bool, None).

    For those types JCS reduces to: keys sorted, no insignificant whitespace, UTF-8, strings
    escaped minimally (RFC 8785 §3.2.2.2). Keys are ASCII, so sorting by UTF-16 code units
    (§3.2.3) equals sorting by code points.
    """
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


SUBJECT_TAG_LABEL = b"netid/access-record/subject-tag/v1"


def subject_tag(person_key: SealKey) -> bytes:
    """The person's tag on their access records: HMAC-SM3(person key, label). Deterministic,
    so one indexed query finds a person's entries; unlinkable to the person without their
    key. It does show that several entries concern one (unnamed) person — the price of a
    self-query that does not open every sealed reference in the log."""
    return hmac_sm3(person_key.secret, SUBJECT_TAG_LABEL)


class AccessRecorder:
    def __init__(self, *, session: Session, clock: Clock, hash_alg: str = DEFAULT_HASH) -> None:
        self._session = session
        self._clock = clock
        self._log = LogRepository(session)
        self._hash_alg = hash_alg  # used only when the first append creates the log
        tree_hasher(hash_alg)

    def lock_head(self) -> None:
        """Take the log head's row lock now (PostgreSQL ``FOR UPDATE``; creating the head if
        there is none), for a transaction that will append and must lock the head before
        any other row (netid.db.group)."""
        self._log.lock_head(self._hash_alg)

    def record(
        self,
        *,
        actor: str,
        action: str,
        outcome: str,
        purpose: str | None = None,
        subject_key: SealKey | None = None,
        subject_id: str | None = None,
        details: dict[str, Any] | None = None,
        record_id: str | None = None,
    ) -> RecordedEntry:
        """Append one access record. ``subject_id`` is sealed under ``subject_key``.

        ``record_id`` lets a caller name the record in advance, so that the entry can carry a
        receipt that quotes its own id (the receipt id is the record id).

        The entry holds index, time, actor, action, purpose, the sealed subject reference,
        the details (claims disclosed, the receipt), the outcome and the record (receipt) id.
        """
        record_id = record_id or new_row_id()
        at = self._clock.now()
        sealed_ref = None
        if subject_id is not None and subject_key is not None:
            sealed_ref = seal(
                subject_key,
                subject_id.encode(),
                table="access_record",
                column="subject_ref",
                row_id=record_id,
            )
        # The head is locked last, right before the writes, to hold it for as short as the
        # caller's transaction allows.
        hash_alg, size, frontier_bytes = self._log.lock_head(self._hash_alg)
        hasher = tree_hasher(hash_alg)
        entry = {
            "index": size,
            "id": record_id,
            "recorded_at": at.isoformat(),
            "actor": actor,
            "action": action,
            "outcome": outcome,
            "purpose": purpose,
            "subject_ref": sealed_ref.hex() if sealed_ref else None,
            # Nested, so a detail can never overwrite one of the fields above.
            "details": details or {},
        }
        canonical = canonical_json(entry)
        leaf = hasher.leaf(canonical)
        frontier, completed = append(hasher, Frontier.from_bytes(frontier_bytes), leaf)
        recorded = RecordedEntry(
            id=record_id,
            log_index=size,
            recorded_at=at,
            actor=actor,
            action=action,
            purpose=purpose,
            outcome=outcome,
            subject_ref_sealed=sealed_ref,
            subject_tag=subject_tag(subject_key) if sealed_ref and subject_key else None,
            canonical=canonical,
            leaf_hash=leaf,
        )
        # Driver statements, not the ORM unit of work: this runs on every access.
        self._log.add_entry(recorded)
        # Every perfect node, the leaf (level 0) included: proofs then read one compact table
        # (the leaf hash is also kept on the entry, which verify checks against it).
        self._log.add_nodes(completed)
        self._log.set_head(frontier.size, frontier.to_bytes())
        return recorded


NoteSigners = Callable[[], Sequence[NoteSigner]]
NoteVerifiers = Callable[[], Sequence[NoteVerifier]]
MAX_FINDINGS = 1000


def _as_bytes(value: object) -> bytes:
    """A stored value as bytes, whatever a tampered database hands back (SQLite lets a BLOB
    column hold TEXT): a retyped value then simply fails to match."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8", "surrogatepass")


def _is_canonical(entry: dict[str, Any], canonical: bytes) -> bool:
    """``canonical`` is the JCS encoding of ``entry``. orjson with sorted keys writes the same
    bytes for our value types and is ~15x faster; only a difference is re-checked with the
    reference encoder (so orjson can never cause a false alarm)."""
    try:
        if orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) == canonical:
            return True
    except TypeError:  # e.g. an integer beyond 64 bits
        pass
    return canonical_json(entry) == canonical


def _no_keys() -> Sequence[Any]:
    return ()


class AuditService:
    """Reading, proving, checkpointing and verifying the log. Proofs need no keys; signers
    and verifiers are asked for only when a checkpoint is cut or checked."""

    def __init__(
        self,
        *,
        repository: LogRepository,
        clock: Clock,
        origin: str = "netid.invalid/netid-log",
        hash_alg: str = DEFAULT_HASH,
        signers: NoteSigners = _no_keys,
        verifiers: NoteVerifiers = _no_keys,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self.origin = origin
        self._hash_alg = hash_alg
        self._signers = signers
        self._verifiers = verifiers

    # -- state ------------------------------------------------------------------------------
    def _head(self) -> tuple[TreeHasher, int, Frontier]:
        head = self._repo.head()
        if head is None:
            return tree_hasher(self._hash_alg), 0, Frontier.empty()
        hash_alg, size, frontier = head
        return tree_hasher(hash_alg), size, Frontier.from_bytes(frontier)

    def create(self, hash_alg: str) -> str:
        """Create the log with ``hash_alg`` (``sm3`` or ``sha256``) if it has no entries yet;
        returns the log's algorithm. Refused once an entry exists (the tree is fixed)."""
        tree_hasher(hash_alg)
        existing = self._repo.lock_head(hash_alg)
        if existing[0] != hash_alg:
            if existing[1] != 0:
                raise LogAlreadyCreated()
            self._repo.set_hash_alg(hash_alg)
        return hash_alg

    def status(self) -> LogStatus:
        hasher, size, frontier = self._head()
        latest = self._repo.latest_checkpoint()
        return LogStatus(
            hash_alg=hasher.name,
            size=size,
            root_hash=frontier_root(hasher, frontier),
            latest_checkpoint=latest.tree_size if latest else None,
        )

    # -- proofs -----------------------------------------------------------------------------
    def _proof_inputs(
        self, wanted: list[tuple[int, int]], tree_size: int, name: str
    ) -> tuple[TreeHasher, Callable[[int, int], bytes]]:
        """The hasher and the stored nodes a proof over ``tree_size`` needs, with the head read
        in the same breath to check the size."""
        head, found = self._repo.perfect_hashes(wanted)
        hash_alg, size = head if head is not None else (self._hash_alg, 0)
        # Any size up to the current one: perfect nodes never change, so every earlier tree
        # (not only the checkpointed ones) can be proven. A client compares with a root it
        # trusts, normally a signed checkpoint's.
        if tree_size > size:
            raise InvalidProofRequest(
                "beyond_tree", f"The {name} is larger than the log ({size} entries)."
            )
        if len(found) != len(set(wanted)):
            raise LogInconsistent()
        return tree_hasher(hash_alg), lambda level, index: found[(level, index)]

    def inclusion_proof(self, index: int, tree_size: int) -> InclusionProof:
        """RFC 9162 §2.1.3.1 inclusion proof of entry ``index`` in the tree of ``tree_size``."""
        if not 0 <= index < tree_size:
            raise InvalidProofRequest("index", "The index must be at least 0 and below tree_size.")
        wanted = [(0, index), *inclusion_proof_nodes(index, tree_size)]
        hasher, perfect = self._proof_inputs(wanted, tree_size, "tree_size")
        return InclusionProof(
            index=index,
            tree_size=tree_size,
            leaf_hash=perfect(0, index),
            hashes=inclusion_proof(hasher, index, tree_size, perfect),
        )

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        """RFC 9162 §2.1.4.1 consistency proof between the trees of ``first`` and ``second``."""
        if not 0 < first <= second:
            raise InvalidProofRequest("sizes", "The sizes must satisfy 0 < first <= second.")
        wanted = consistency_proof_nodes(first, second)
        hasher, perfect = self._proof_inputs(wanted, second, "second size")
        return ConsistencyProof(
            first=first, second=second, hashes=consistency_proof(hasher, first, second, perfect)
        )

    def root_at(self, tree_size: int) -> bytes:
        """MTH of the first ``tree_size`` entries, from O(log n) stored nodes."""
        if tree_size == 0:
            return self._head()[0].empty()
        hasher, perfect = self._proof_inputs(range_nodes(0, tree_size), tree_size, "tree size")
        return range_hash(hasher, 0, tree_size, perfect)

    # -- entries ----------------------------------------------------------------------------
    def entry(self, index: int) -> dict[str, Any]:
        """The entry at ``index``: its canonical JSON (parsed) and leaf hash. The caller is
        the audit administrator and records the read (netid.web.routes_log)."""
        row = self._repo.entry(index) if index >= 0 else None
        if row is None:
            raise EntryNotFound()
        return {
            "index": row.log_index,
            "leaf_hash": b64(row.leaf_hash),
            "entry": orjson.loads(row.canonical),
        }

    def entries_of_person(
        self, person_id: str, person_key: SealKey, *, limit: int = 500
    ) -> list[dict[str, Any]]:
        """The person's own entries, newest first: who used their data, when, why, with what
        result (the right to know, PIPL art. 44–45). Found by the subject tag, then each one
        confirmed by opening its sealed reference with the person's key — a tag alone never
        discloses an entry. The caller records the self-query."""
        entries = []
        for row in self._repo.entries_tagged(subject_tag(person_key), limit=limit):
            if row.subject_ref_sealed is None:
                continue
            try:
                ref = open_sealed(
                    {person_key.key_id: person_key},
                    row.subject_ref_sealed,
                    table="access_record",
                    column="subject_ref",
                    row_id=row.id,
                )
            except CryptoError:
                continue
            if ref.decode() != person_id:
                continue
            entry = orjson.loads(row.canonical)
            entry.pop("subject_ref", None)  # the person's own sealed id: noise to them
            entries.append(
                {
                    "index": row.log_index,
                    "leaf_hash": b64(row.leaf_hash),
                    "entry": entry,
                    # The exact leaf bytes, so the person can recompute the leaf hash and know
                    # that the entry shown is the one the inclusion proof proves.
                    "canonical": row.canonical.decode(),
                }
            )
        return entries

    # -- checkpoints ------------------------------------------------------------------------
    def latest_checkpoint(self) -> Checkpoint:
        row = self._repo.latest_checkpoint()
        if row is None:
            raise NoCheckpoint()
        return Checkpoint(tree_size=row.tree_size, root_hash=row.root_hash, note=row.note)

    def cut_checkpoint(
        self, *, min_entries: int = 1, max_age_seconds: float = 0.0
    ) -> Checkpoint | None:
        """Sign and store a checkpoint of the current tree, if it grew by at least
        ``min_entries`` since the last one or the last one is older than ``max_age_seconds``
        (and it grew at all). Several workers may race: the tree_size primary key keeps one
        checkpoint per size (the others' inserts do nothing; both notes sign the same root).
        Returns the new checkpoint, or None if there was nothing to cut."""
        hasher, size, frontier = self._head()
        latest = self._repo.latest_checkpoint()
        grown = size - (latest.tree_size if latest else 0)
        if size == 0 or grown <= 0:
            return None
        now = self._clock.now()
        old_enough = latest is None or (now - latest.created_at).total_seconds() >= max_age_seconds
        if grown < min_entries and not old_enough:
            return None
        root = frontier_root(hasher, frontier)
        note = sign_note(checkpoint_body(self.origin, size, root), self._signers())
        stored = self._repo.add_checkpoint(
            LogCheckpoint(tree_size=size, root_hash=root, note=note, created_at=now)
        )
        return Checkpoint(tree_size=size, root_hash=root, note=note) if stored else None

    def verifier_key_lines(self) -> list[str]:
        return [v.verifier_key_line() for v in self._verifiers()]

    def open_checkpoint(self, note: str) -> NoteCheckpoint:
        """A signed checkpoint verified with the log's keys (any origin); NoteInvalid if not."""
        checkpoint, _ = open_checkpoint(note, self._verifiers())
        return checkpoint

    def witness(
        self, previous: Sequence[str], note: str | None = None
    ) -> tuple[NoteCheckpoint, bool]:
        """Witness the latest stored checkpoint (or ``note``) against the auditor's file."""
        hasher, _, _ = self._head()
        note = note if note is not None else self.latest_checkpoint().note
        return witness_checkpoint(
            hasher,
            self._verifiers(),
            previous,
            note,
            lambda first, second: self.consistency_proof(first, second).hashes,
        )

    # -- verification -----------------------------------------------------------------------
    def verify(self, witness: Sequence[str] = (), *, check_nodes: bool = True) -> VerifyReport:
        """Recompute everything from the entries' canonical bytes and compare (issue 4 §1).

        One pass over the entries in index order with a :class:`Frontier` (memory stays flat
        whatever the size): every leaf hash, every index, every stored checkpoint's root and
        signatures, the head, and the witness's checkpoints (held outside the database). Then,
        with ``check_nodes``, every stored perfect node against its two children, level by
        level. Detects a changed entry, a deleted one, reordered ones, a truncated tail and a
        rollback to an older copy (the witness saw more, or another root at its size).
        """
        head = self._repo.head()
        hasher = tree_hasher(head[0] if head else self._hash_alg)
        report = VerifyReport(hash_alg=hasher.name)
        verifiers = self._verifiers()

        def find(index: int | None, kind: FindingKind, detail: str = "") -> None:
            if len(report.findings) < MAX_FINDINGS:
                report.findings.append(Finding(index, kind, detail))
            else:
                report.truncated_findings += 1

        # Roots expected at given sizes, (size, root, source, note or None), in size order:
        # the stored checkpoints streamed (15 years of them do not fit in memory) merged with
        # the witness's (a file the auditor keeps; small).
        witnessed_roots: list[tuple[int, bytes, str, str | None]] = []
        for note in witness:
            try:
                seen, _ = open_checkpoint(note, verifiers)
            except NoteInvalid:
                find(None, FindingKind.WITNESS_INVALID, "a witnessed checkpoint does not verify")
                continue
            witnessed_roots.append((seen.size, seen.root, "witness", None))
        report.witness_size = max((w[0] for w in witnessed_roots), default=0) if witness else None
        witnessed_roots.sort(key=lambda item: item[0])
        stored_roots = (
            (size, root, "checkpoint", note) for size, root, note in self._repo.stream_checkpoints()
        )
        expected = heapq.merge(stored_roots, witnessed_roots, key=lambda item: item[0])
        upcoming = next(expected, None)

        def check_expected(frontier: Frontier) -> None:
            nonlocal upcoming
            root: bytes | None = None
            while upcoming is not None and upcoming[0] <= frontier.size:
                size, want, source, note = upcoming
                upcoming = next(expected, None)
                # Sizes are checked as the frontier passes each one, so size == frontier.size.
                if root is None:
                    root = frontier_root(hasher, frontier)
                if source == "witness":
                    if root != want:
                        find(size, FindingKind.WITNESS_ROOT, "the witness saw another root")
                    continue
                report.checkpoints_checked += 1
                if root != want:
                    find(size, FindingKind.CHECKPOINT_ROOT)
                if not self._note_matches(note or "", size, want, verifiers):
                    find(size, FindingKind.CHECKPOINT_SIGNATURE)

        frontier = Frontier.empty()
        check_expected(frontier)
        next_index = 0
        for (
            index,
            canonical,
            stored_leaf,
            rid,
            actor,
            action,
            outcome,
            purpose,
        ) in self._repo.stream_entries():
            if index != next_index:
                if index > next_index:
                    find(next_index, FindingKind.MISSING, f"{index - next_index} entries")
                else:
                    find(index, FindingKind.OUT_OF_ORDER)
                next_index = index
            canonical, stored_leaf = _as_bytes(canonical), _as_bytes(stored_leaf)
            leaf = hasher.leaf(canonical)
            if leaf != stored_leaf:
                find(index, FindingKind.LEAF_MISMATCH)
            try:
                entry = orjson.loads(canonical)
            except orjson.JSONDecodeError:
                entry = None
            if not isinstance(entry, dict) or not _is_canonical(entry, canonical):
                find(index, FindingKind.ENTRY_INVALID)
            elif entry.get("index") != index:
                find(index, FindingKind.INDEX_MISMATCH)
            elif (
                entry.get("id"),
                entry.get("actor"),
                entry.get("action"),
                entry.get("outcome"),
                entry.get("purpose"),
            ) != (rid, actor, action, outcome, purpose):
                find(index, FindingKind.COLUMN_MISMATCH)
            frontier, _ = append(hasher, frontier, leaf)
            next_index += 1
            if upcoming is not None and upcoming[0] <= frontier.size:
                check_expected(frontier)
        report.size = frontier.size
        report.root_hash = frontier_root(hasher, frontier)
        # What the database or the witness say should exist beyond the entries.
        head_size = head[1] if head else 0
        if head_size > next_index:
            find(next_index, FindingKind.TRUNCATED, f"the head says {head_size} entries")
        elif head is not None and head[2] != frontier.to_bytes():
            find(None, FindingKind.HEAD_MISMATCH)
        beyond = itertools.chain([upcoming], expected) if upcoming is not None else iter(())
        for size, _, source, _ in beyond:
            if source == "witness":
                find(size, FindingKind.ROLLBACK, "the witness saw a larger tree")
            else:
                find(size, FindingKind.TRUNCATED, "a checkpoint covers missing entries")
        if check_nodes:
            self._verify_nodes(hasher, report.size, find)
        return report

    @staticmethod
    def _note_matches(note: str, size: int, root: bytes, verifiers: Sequence[NoteVerifier]) -> bool:
        try:
            checkpoint, names = open_checkpoint(note, verifiers)
        except NoteInvalid:
            return False
        # Both of the log's signatures (SM2 and Ed25519) when both kinds of key are known.
        wanted = {type(v) for v in verifiers}
        signed_by = {type(v) for v in verifiers if v.name in names}
        return checkpoint.size == size and checkpoint.root == root and signed_by == wanted

    def _verify_nodes(
        self, hasher: TreeHasher, size: int, find: Callable[..., None], batch: int = 4096
    ) -> None:
        """Every stored node equals what the entries give: level 0 the entries' leaf hashes
        (already checked against the canonical bytes), each higher one node(left, right) of
        the level below, by induction; none missing, none extra."""
        for start in range(0, max(size, 1), batch):
            stored = {
                i: _as_bytes(h) for i, h in self._repo.nodes_at_level(0, start, start + batch)
            }
            for i, leaf in self._repo.leaves_range(start, start + batch):
                if stored.pop(i, None) != _as_bytes(leaf):
                    find(i, FindingKind.NODE_MISMATCH, "level 0")
            for i in stored:
                find(i, FindingKind.NODE_MISMATCH, "level 0, extra")
        level = 1
        while (1 << level) <= max(size, 1) or level <= self._repo.max_node_level():
            count = size >> level
            for start in range(0, max(count, 1), batch):
                parents = {
                    i: _as_bytes(h)
                    for i, h in self._repo.nodes_at_level(level, start, start + batch)
                }
                children = {
                    i: _as_bytes(h)
                    for i, h in self._repo.nodes_at_level(level - 1, 2 * start, 2 * (start + batch))
                }
                for idx in range(start, min(start + batch, count)):
                    left, right = children.get(2 * idx), children.get(2 * idx + 1)
                    got = parents.pop(idx, None)
                    if left is None or right is None or got != hasher.node(left, right):
                        find(idx << level, FindingKind.NODE_MISMATCH, f"level {level}")
                for idx in parents:  # beyond the tree
                    find(idx << level, FindingKind.NODE_MISMATCH, f"level {level}, extra")
            level += 1


ConsistencyFetcher = Callable[[int, int], Sequence[bytes]]


def witness_checkpoint(
    hasher: TreeHasher,
    verifiers: Sequence[NoteVerifier],
    previous: Sequence[str],
    note: str,
    consistency: ConsistencyFetcher,
) -> tuple[NoteCheckpoint, bool]:
    """The auditor's step (issue 4 §1, RFC 9162 §8.1.4 in spirit): accept ``note`` if its
    signatures verify and it is consistent with the last checkpoint already witnessed
    (a consistency proof from ``consistency(first, second)``, verified here). Returns the
    checkpoint and whether it is new (to be appended). A smaller tree than the last witnessed
    one is a rollback; the same size with another root, or a failing proof, a fork."""
    try:
        checkpoint, _ = open_checkpoint(note, verifiers)
    except NoteInvalid:
        raise WitnessInvalid("signature", "The checkpoint's signatures do not verify.") from None
    if not previous:
        return checkpoint, True
    try:
        last, _ = open_checkpoint(previous[-1], verifiers)
    except NoteInvalid:
        raise WitnessInvalid(
            "file", "The witness file's last checkpoint does not verify."
        ) from None
    if checkpoint.size < last.size:
        raise WitnessInvalid("rollback", "The log is smaller than the last witnessed checkpoint.")
    if checkpoint.size == last.size:
        if checkpoint.root != last.root:
            raise WitnessInvalid("fork", "The log shows another root at a witnessed size.")
        return checkpoint, False
    proof = list(consistency(last.size, checkpoint.size))
    if not verify_consistency(
        hasher, last.size, checkpoint.size, proof, last.root, checkpoint.root
    ):
        raise WitnessInvalid("inconsistent", "The log is not an extension of the witnessed one.")
    return checkpoint, True
