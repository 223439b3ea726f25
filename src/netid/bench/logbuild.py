"""A transparency log of many entries, loaded in bulk (from bench/log_proofs.py).

The rows are exactly what the recorder writes for N appends (entries, canonical encoding, leaf
hashes, perfect subtree nodes and head: :func:`netid.crypto.merkle.append`), inserted a batch
per transaction: minutes for a million entries instead of an hour of single appends. The load
continues the log already present (index, frontier), so it can follow a registry import.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, insert, select

from netid.audit.models import AccessRecord, LogHead, LogNode
from netid.audit.service import canonical_json, tree_hasher
from netid.container import Container
from netid.core.ids import new_row_id
from netid.crypto.merkle import Frontier, append


def bulk_append(
    container: Container,
    entries: int,
    *,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append ``entries`` verification-like entries; returns the log's new size."""
    records = cast(Table, AccessRecord.__table__)
    nodes_table = cast(Table, LogNode.__table__)
    with container.transaction(write=False) as session:
        head = session.scalar(select(LogHead).where(LogHead.id == 1))
        alg = head.hash_alg if head is not None else container.settings.log_hash
        frontier = Frontier.from_bytes(head.frontier) if head is not None else Frontier.empty()
    hasher = tree_hasher(alg)
    first = frontier.size
    at = dt.datetime.now(dt.UTC)
    for start in range(first, first + entries, batch):
        rows: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for index in range(start, min(start + batch, first + entries)):
            rid = new_row_id()
            when = at + dt.timedelta(microseconds=index - first)
            entry = {
                "index": index,
                "id": rid,
                "recorded_at": when.isoformat(),
                "actor": f"institution:BK{index % 97:08d}X",
                "action": "verification.id2",
                "outcome": "match",
                "purpose": "account_opening",
                "subject_ref": os.urandom(60).hex(),
                "details": {"claims_disclosed": [], "receipt": {"id": rid, "price_fen": 10}},
            }
            canonical = canonical_json(entry)
            leaf = hasher.leaf(canonical)
            frontier, completed = append(hasher, frontier, leaf)
            rows.append(
                {
                    "id": rid,
                    "log_index": index,
                    "recorded_at": when,
                    "actor": entry["actor"],
                    "action": entry["action"],
                    "purpose": entry["purpose"],
                    "outcome": entry["outcome"],
                    "subject_ref_sealed": bytes.fromhex(str(entry["subject_ref"])),
                    "canonical": canonical,
                    "leaf_hash": leaf,
                }
            )
            nodes.extend({"level": lv, "idx": ix, "hash": h} for lv, ix, h in completed)
        with container.transaction() as session:
            session.execute(insert(records), rows)
            if nodes:
                session.execute(insert(nodes_table), nodes)
            session.merge(
                LogHead(id=1, hash_alg=alg, size=frontier.size, frontier=frontier.to_bytes())
            )
        if progress is not None:
            progress(frontier.size - first)
    with container.transaction() as session:
        container.audit(session).cut_checkpoint()
    return frontier.size
