"""`verify` finds every tampering and raises no false alarm.

The triggers that refuse UPDATE and DELETE are removed deliberately, inside one transaction
per trial (netid.db.append_only.unsafe_append_only_disabled), the log is tampered with, verify
runs on that same transaction, and the transaction is rolled back: so 1,000+ random trials run
against one real log on each backend. The attacker here has the database (and for the
"rewrite" trials the signing keys too); only the witness file, kept outside, is out of reach.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from netid.audit.schemas import FindingKind, VerifyReport
from netid.audit.service import AuditService, tree_hasher
from netid.container import Container
from netid.crypto.merkle import Frontier, append
from netid.db.append_only import unsafe_append_only_disabled
from tests.audit.support import write
from tests.conftest import Backend

pytestmark = pytest.mark.db

SIZE = 40
CHECKPOINTS = (10, 25, SIZE)
# 1,000 trials on SQLite and 300 more on PostgreSQL (the same code path, slower round trips).
TRIALS = {"sqlite": 1000, "postgresql": 300}
KINDS = (
    "byte",  # one bit of one entry's canonical bytes
    "byte_rehashed",  # ... and its stored leaf hash recomputed to match
    "delete",  # one row removed
    "swap",  # two rows' contents exchanged (indexes kept)
    "truncate",  # the tail removed
    "truncate_consistent",  # the tail removed and head/nodes made to match
    "restore_older",  # an older copy: tail, nodes, head and later checkpoints all gone
    "rewrite",  # an older copy, then other entries appended and checkpoints re-signed
)


@pytest.fixture
def log(container: Container) -> tuple[Container, list[str]]:
    """A log of SIZE entries with checkpoints at CHECKPOINTS, and the witness of all three."""
    notes = []
    done = 0
    for size in CHECKPOINTS:
        write(container, size - done, per_transaction=4)
        done = size
        with container.transaction() as session:
            cut = container.audit(session).cut_checkpoint()
        assert cut is not None
        notes.append(cut.note)
    return container, notes


@pytest.fixture
def tampering(db: Backend) -> Iterator[Session]:
    with db.engine.connect() as conn:
        with unsafe_append_only_disabled(conn):
            session = Session(bind=conn)
            yield session
            session.close()
        conn.rollback()


def _audit(container: Container, session: Session) -> AuditService:
    return container.audit(session)


def _canonical(session: Session, index: int) -> bytes:
    value = session.execute(
        text("SELECT canonical FROM access_record WHERE log_index = :i"), {"i": index}
    ).scalar_one()
    return bytes(value)


def _set(session: Session, index: int, **values: object) -> None:
    columns = ", ".join(f"{k} = :{k}" for k in values)
    session.execute(
        text(f"UPDATE access_record SET {columns} WHERE log_index = :index"),
        {**values, "index": index},
    )


def _restore_older(session: Session, k: int) -> None:
    """What an older backup of the database looks like: the first k entries, their nodes,
    the head at k and only the checkpoints up to k."""
    session.execute(text("DELETE FROM access_record WHERE log_index >= :k"), {"k": k})
    nodes = session.execute(text("SELECT level, idx FROM log_node")).all()
    for level, idx in nodes:
        if (idx + 1) << level > k:
            session.execute(
                text("DELETE FROM log_node WHERE level = :l AND idx = :i"), {"l": level, "i": idx}
            )
    session.execute(text("DELETE FROM log_checkpoint WHERE tree_size > :k"), {"k": k})
    hasher = tree_hasher("sm3")
    frontier = Frontier.empty()
    leaves = session.execute(
        text("SELECT leaf_hash FROM access_record ORDER BY log_index")
    ).scalars()
    for leaf in leaves:
        frontier, _ = append(hasher, frontier, bytes(leaf))
    session.execute(
        text("UPDATE log_head SET size = :s, frontier = :f"),
        {"s": frontier.size, "f": frontier.to_bytes()},
    )


def tamper(container: Container, session: Session, kind: str, rng: random.Random) -> set[str]:
    """Apply one tampering; returns the finding kinds any of which shows it was caught."""
    hasher = tree_hasher("sm3")
    if kind in ("byte", "byte_rehashed"):
        i = rng.randrange(SIZE)
        data = bytearray(_canonical(session, i))
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        changed = bytes(data)
        if kind == "byte":
            _set(session, i, canonical=changed)
            return {FindingKind.LEAF_MISMATCH}
        _set(session, i, canonical=changed, leaf_hash=hasher.leaf(changed))
        return {
            FindingKind.ENTRY_INVALID,
            FindingKind.INDEX_MISMATCH,
            FindingKind.COLUMN_MISMATCH,
            FindingKind.CHECKPOINT_ROOT,
            FindingKind.NODE_MISMATCH,
        }
    if kind == "delete":
        i = rng.randrange(SIZE)
        session.execute(text("DELETE FROM access_record WHERE log_index = :i"), {"i": i})
        return {FindingKind.MISSING, FindingKind.TRUNCATED}
    if kind == "swap":
        i, j = rng.sample(range(SIZE), 2)
        columns = "id, canonical, leaf_hash, actor, action, outcome, purpose, recorded_at"
        rows = {
            index: session.execute(
                text(f"SELECT {columns} FROM access_record WHERE log_index = :i"), {"i": index}
            ).one()
            for index in (i, j)
        }
        names = [c.strip() for c in columns.split(",")]
        _set(session, i, id="x" * 32)  # ids are unique: move one aside first
        for a, b in ((j, i), (i, j)):
            _set(session, a, **dict(zip(names, rows[b], strict=True)))
        return {FindingKind.INDEX_MISMATCH}
    if kind == "truncate":
        k = rng.randrange(1, SIZE)
        session.execute(text("DELETE FROM access_record WHERE log_index >= :k"), {"k": k})
        return {FindingKind.TRUNCATED}
    if kind == "truncate_consistent":
        k = rng.randrange(1, SIZE)
        _restore_older(session, k)
        session.execute(text("DELETE FROM log_checkpoint"))
        return {FindingKind.ROLLBACK}  # nothing inside the database shows it: the witness does
    if kind == "restore_older":
        k = rng.randrange(1, SIZE)
        _restore_older(session, k)
        return {FindingKind.ROLLBACK}
    assert kind == "rewrite"
    k = rng.randrange(1, SIZE)
    _restore_older(session, k)
    recorder = container.recorder(session)
    for n in range(SIZE + rng.randrange(3) - k):
        recorder.record(
            actor="operator:mallory", action="test.write", outcome="ok", details={"n": n}
        )
    _audit(container, session).cut_checkpoint()
    return {FindingKind.WITNESS_ROOT}


def _kinds(report: VerifyReport) -> set[str]:
    return {f.kind for f in report.findings}


def test_an_untouched_log_verifies_clean(log: tuple[Container, list[str]]) -> None:
    container, notes = log
    with container.transaction(write=False) as session:
        report = container.audit(session).verify(notes)
    assert report.clean, report.to_json()
    assert report.size == SIZE
    assert report.checkpoints_checked == len(CHECKPOINTS)
    assert report.witness_size == SIZE


def test_random_tamperings_are_all_detected(
    log: tuple[Container, list[str]], tampering: Session, db: Backend
) -> None:
    container, notes = log
    rng = random.Random(f"tamper-{db.name}")
    caught: dict[str, int] = dict.fromkeys(KINDS, 0)
    trials = TRIALS.get(db.name, 300)
    for trial in range(trials):
        kind = KINDS[trial % len(KINDS)]
        savepoint = tampering.begin_nested()
        expected = tamper(container, tampering, kind, rng)
        tampering.flush()
        report = _audit(container, tampering).verify(notes)
        assert not report.clean, (trial, kind)
        assert _kinds(report) & expected, (trial, kind, report.to_json())
        caught[kind] += 1
        savepoint.rollback()
    assert sum(caught.values()) == trials
    # And after all that, rolled back: clean again (no false alarm).
    assert _audit(container, tampering).verify(notes).clean


def test_without_the_witness_an_older_copy_passes_but_never_with_it(
    log: tuple[Container, list[str]], tampering: Session
) -> None:
    container, notes = log
    _restore_older(tampering, 25)
    assert _audit(container, tampering).verify([]).clean  # why the witness exists
    report = _audit(container, tampering).verify(notes)
    assert [(f.index, f.kind) for f in report.findings] == [(SIZE, FindingKind.ROLLBACK)]


def test_a_changed_node_is_reported(log: tuple[Container, list[str]], tampering: Session) -> None:
    container, notes = log
    tampering.execute(
        text("UPDATE log_node SET hash = :h WHERE level = 2 AND idx = 3"), {"h": b"\x07" * 32}
    )
    report = _audit(container, tampering).verify(notes)
    assert (12, FindingKind.NODE_MISMATCH) in [(f.index, f.kind) for f in report.findings]
