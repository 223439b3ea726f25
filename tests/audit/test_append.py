"""Appends: every access record is the next leaf, serialised on both databases (threads and
processes), gap-free after rollbacks, and the stored head and nodes match a recomputation."""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import select

from netid.audit.models import LogNode
from netid.audit.service import tree_hasher
from netid.config import Settings
from netid.container import Container
from netid.crypto.merkle import Frontier, frontier_root
from tests.audit.support import recomputed_root, stored, write
from tests.conftest import Backend

pytestmark = pytest.mark.db


def _assert_log_is_exact(container: Container, count: int) -> None:
    rows, head = stored(container)
    assert [r.log_index for r in rows] == list(range(count))
    assert head is not None
    assert head.size == count
    hasher = tree_hasher(head.hash_alg)
    for r in rows:
        assert json.loads(r.canonical)["index"] == r.log_index
        assert r.leaf_hash == hasher.leaf(r.canonical)
    frontier = Frontier.from_bytes(head.frontier)
    assert frontier.size == count
    assert frontier_root(hasher, frontier) == recomputed_root(rows, head.hash_alg)


def test_entries_get_consecutive_indexes_and_the_head_root_is_the_tree_root(
    container: Container,
) -> None:
    write(container, 5)
    write(container, 32, per_transaction=8)  # several appends in one transaction
    _assert_log_is_exact(container, 37)
    rows, head = stored(container)
    assert head is not None and head.hash_alg == "sm3"
    entry = json.loads(rows[3].canonical)
    # issue 4 §1: index, time, actor, action, purpose, sealed subject, details, result, id.
    assert set(entry) == {
        "index",
        "id",
        "recorded_at",
        "actor",
        "action",
        "outcome",
        "purpose",
        "subject_ref",
        "details",
    }
    assert entry["id"] == rows[3].id


def test_every_perfect_subtree_is_stored_once(container: Container) -> None:
    write(container, 21, per_transaction=7)
    with container.transaction(write=False) as session:
        nodes = {(n.level, n.idx): n.hash for n in session.scalars(select(LogNode))}
    # Level L holds floor(21 / 2**L) nodes: 21 leaves, then 10 + 5 + 2 + 1.
    assert sorted(nodes) == sorted(
        [(0, i) for i in range(21)]
        + [(1, i) for i in range(10)]
        + [(2, i) for i in range(5)]
        + [(3, 0), (3, 1), (4, 0)]
    )
    assert nodes[(0, 8)] == rows_leaf(container, 8)
    rows, _ = stored(container)
    hasher = tree_hasher("sm3")
    assert nodes[(1, 4)] == hasher.node(rows[8].leaf_hash, rows[9].leaf_hash)


def rows_leaf(container: Container, index: int) -> bytes:
    return stored(container)[0][index].leaf_hash


def test_a_rolled_back_append_leaves_no_gap(container: Container) -> None:
    write(container, 3)

    def failing_action() -> None:
        with container.transaction() as session:
            container.recorder(session).record(actor="operator:test", action="x", outcome="ok")
            raise RuntimeError("the action failed: its entry goes with it")

    with pytest.raises(RuntimeError):
        failing_action()
    write(container, 2)
    _assert_log_is_exact(container, 5)


def test_the_hash_is_chosen_when_the_log_is_created(settings: Settings, db: Backend) -> None:
    container = Container(settings.model_copy(update={"log_hash": "sha256"}), engine=db.engine)
    write(container, 9)
    _, head = stored(container)
    assert head is not None and head.hash_alg == "sha256"
    _assert_log_is_exact(container, 9)
    # A later setting does not change an existing log's tree.
    write(Container(settings, engine=db.engine), 2)
    _, head = stored(container)
    assert head is not None and head.hash_alg == "sha256"
    _assert_log_is_exact(container, 11)


def test_concurrent_threads_never_share_an_index_or_leave_a_gap(container: Container) -> None:
    threads, each = 8, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run() -> None:
        try:
            start.wait()
            write(container, each)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    _assert_log_is_exact(container, threads * each)


def _write_in_process(url: str, schema: str | None, count: int) -> int:
    c = Container(Settings(database_url=url, database_schema=schema))
    write(c, count)
    c.engine.dispose()
    return count


def test_two_processes_append_to_one_log(container: Container, db: Backend) -> None:
    processes, each = 2, 40
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = list(pool.map(_write_in_process, [db.url] * processes, [db.schema] * 2, [each] * 2))
    assert sum(done) == processes * each
    _assert_log_is_exact(container, processes * each)
