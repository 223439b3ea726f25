"""Proofs from stored nodes, checkpoints and the witness step, against an independent
recomputation of the tree from the entries (netid.crypto.merkle over the canonical bytes)."""

from __future__ import annotations

import pytest

from netid.audit.errors import InvalidProofRequest, LogAlreadyCreated, NoCheckpoint, WitnessInvalid
from netid.audit.models import LogCheckpoint
from netid.audit.repository import LogRepository
from netid.audit.service import tree_hasher
from netid.container import Container
from netid.crypto.merkle import root, verify_consistency, verify_inclusion
from netid.crypto.notes import open_checkpoint
from tests.audit.support import stored, write

pytestmark = pytest.mark.db

SIZE = 41


@pytest.fixture
def logged(container: Container) -> Container:
    write(container, SIZE, per_transaction=5)
    return container


def test_every_inclusion_and_consistency_proof_verifies(logged: Container) -> None:
    rows, _ = stored(logged)
    hasher = tree_hasher("sm3")
    leaves = [hasher.leaf(r.canonical) for r in rows]
    roots = {n: root(hasher, leaves[:n]) for n in range(1, SIZE + 1)}
    with logged.transaction(write=False) as session:
        service = logged.audit(session)
        for n in (1, 2, 3, 7, 8, 9, 16, 31, 32, 33, SIZE):
            assert service.root_at(n) == roots[n]
            for i in range(n):
                proof = service.inclusion_proof(i, n)
                assert proof.leaf_hash == leaves[i]
                assert verify_inclusion(hasher, i, n, leaves[i], proof.hashes, roots[n])
                if proof.hashes:  # a changed leaf does not verify
                    assert not verify_inclusion(hasher, i, n, leaves[i - 1], proof.hashes, roots[n])
            for m in range(1, n + 1):
                hashes = service.consistency_proof(m, n).hashes
                assert verify_consistency(hasher, m, n, hashes, roots[m], roots[n])


@pytest.mark.parametrize(
    ("index", "size", "reason"),
    [(-1, 5, "index"), (5, 5, "index"), (0, 0, "index"), (0, SIZE + 1, "beyond_tree")],
)
def test_impossible_inclusion_proofs_are_refused(
    logged: Container, index: int, size: int, reason: str
) -> None:
    with logged.transaction(write=False) as session, pytest.raises(InvalidProofRequest) as err:
        logged.audit(session).inclusion_proof(index, size)
    assert err.value.details["reason"] == reason


@pytest.mark.parametrize(("first", "second"), [(0, 3), (4, 3), (1, SIZE + 1)])
def test_impossible_consistency_proofs_are_refused(
    logged: Container, first: int, second: int
) -> None:
    with logged.transaction(write=False) as session, pytest.raises(InvalidProofRequest):
        logged.audit(session).consistency_proof(first, second)


def test_checkpoints_are_signed_with_sm2_and_ed25519_and_cut_only_when_the_tree_grew(
    logged: Container,
) -> None:
    with logged.transaction(write=False) as session, pytest.raises(NoCheckpoint):
        logged.audit(session).latest_checkpoint()
    with logged.transaction() as session:
        cut = logged.audit(session).cut_checkpoint()
        assert cut is not None and cut.tree_size == SIZE
        assert logged.audit(session).cut_checkpoint() is None  # nothing new
    with logged.transaction(write=False) as session:
        service = logged.audit(session)
        latest = service.latest_checkpoint()
        verifiers = logged.log_verifiers(session)
    assert latest.note == cut.note
    checkpoint, names = open_checkpoint(latest.note, verifiers, origin=logged.log_origin())
    assert checkpoint.size == SIZE
    assert checkpoint.root == root(tree_hasher("sm3"), [r.leaf_hash for r in stored(logged)[0]])
    assert names == [logged.log_origin(), logged.log_origin()]
    assert len(verifiers) == 2
    assert latest.note.startswith("127.0.0.1:8000/netid-log\n41\n")


def test_a_checkpoint_waits_for_n_entries_or_t_seconds(logged: Container) -> None:
    with logged.transaction() as session:
        assert logged.audit(session).cut_checkpoint() is not None
    write(logged, 3)
    with logged.transaction() as session:
        service = logged.audit(session)
        assert service.cut_checkpoint(min_entries=5, max_age_seconds=3600) is None
        assert service.cut_checkpoint(min_entries=3, max_age_seconds=3600) is not None


def test_two_workers_cutting_at_once_store_one_checkpoint(logged: Container) -> None:
    with logged.transaction() as session:
        cut = logged.audit(session).cut_checkpoint()
    assert cut is not None
    # A second worker that read the head before the first committed inserts the same size:
    # the primary key turns its insert into nothing, not an error.
    with logged.transaction() as session:
        repo = LogRepository(session)
        late = LogCheckpoint(
            tree_size=SIZE, root_hash=cut.root_hash, note=cut.note, created_at=logged.clock.now()
        )
        assert repo.add_checkpoint(late) is False
        assert [c.tree_size for c in repo.checkpoints()] == [SIZE]


def test_the_witness_accepts_extensions_and_refuses_rollbacks(logged: Container) -> None:
    with logged.transaction() as session:
        first = logged.audit(session).cut_checkpoint()
    assert first is not None
    write(logged, 9)
    with logged.transaction() as session:
        second = logged.audit(session).cut_checkpoint()
    assert second is not None
    with logged.transaction(write=False) as session:
        service = logged.audit(session)
        assert service.witness([], first.note)[1] is True
        checkpoint, new = service.witness([first.note], second.note)
        assert new and checkpoint.size == SIZE + 9
        assert service.witness([first.note, second.note], second.note)[1] is False
        with pytest.raises(WitnessInvalid) as err:
            service.witness([first.note, second.note], first.note)
        assert err.value.details["reason"] == "rollback"
        with pytest.raises(WitnessInvalid) as err:
            service.witness([], second.note.replace("\n\n", "\n\n\n"))
        assert err.value.details["reason"] == "signature"


def test_the_hash_is_fixed_once_the_log_has_entries(logged: Container) -> None:
    with logged.transaction() as session, pytest.raises(LogAlreadyCreated):
        logged.audit(session).create("sha256")
