"""Helpers for the log tests: write entries, read the stored log back, recompute it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from netid.audit.models import AccessRecord, LogHead
from netid.audit.service import tree_hasher
from netid.container import Container
from netid.crypto.merkle import root


def write(container: Container, count: int, *, per_transaction: int = 1, **fields: Any) -> None:
    done = 0
    while done < count:
        with container.transaction() as session:
            recorder = container.recorder(session)
            for _ in range(min(per_transaction, count - done)):
                recorder.record(
                    actor=fields.get("actor", "operator:test"),
                    action=fields.get("action", "test.write"),
                    outcome="ok",
                    details={"n": done},
                )
                done += 1


def stored(container: Container) -> tuple[list[AccessRecord], LogHead | None]:
    with container.transaction(write=False) as session:
        rows = list(session.scalars(select(AccessRecord).order_by(AccessRecord.log_index)))
        head = session.get(LogHead, 1)
        return rows, head


def recomputed_root(rows: list[AccessRecord], hash_alg: str) -> bytes:
    hasher = tree_hasher(hash_alg)
    return root(hasher, [hasher.leaf(r.canonical) for r in rows])
