"""transparency log: log_index and leaf_hash on access_record, log_head, log_node,
log_checkpoint, and the append-only triggers

Access records written before the log existed are made its first entries, in ``seq`` order:
each gets its index (also inside its canonical entry) and leaf hash, with the SM3 tree.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from netid.crypto.merkle import Frontier, TreeHasher, append
from netid.db.append_only import create_append_only_triggers, unsafe_drop_append_only_triggers

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash_alg", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_log_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_head")),
    )
    op.create_table(
        "log_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_node")),
    )
    op.create_table(
        "log_checkpoint",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_log_checkpoint")),
    )
    with op.batch_alter_table("access_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_index", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("leaf_hash", sa.LargeBinary(), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table("access_record", schema=None) as batch_op:
        batch_op.alter_column("log_index", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("leaf_hash", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_access_record_log_index"), ["log_index"])
    create_append_only_triggers(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """Existing records become entries 0..n-1 in seq order; the head is created (SM3)."""
    record = sa.table(
        "access_record",
        sa.column("seq", sa.BigInteger()),
        sa.column("canonical", sa.LargeBinary()),
        sa.column("log_index", sa.BigInteger()),
        sa.column("leaf_hash", sa.LargeBinary()),
    )
    node = sa.table(
        "log_node",
        sa.column("level", sa.SmallInteger()),
        sa.column("idx", sa.BigInteger()),
        sa.column("hash", sa.LargeBinary()),
    )
    head = sa.table(
        "log_head",
        sa.column("id", sa.Integer()),
        sa.column("hash_alg", sa.String()),
        sa.column("size", sa.BigInteger()),
        sa.column("frontier", sa.LargeBinary()),
    )
    rows = conn.execute(sa.select(record.c.seq, record.c.canonical).order_by(record.c.seq)).all()
    if not rows:
        return  # the first append creates the head, with the configured hash
    hasher = TreeHasher("sm3")
    frontier = Frontier.empty()
    for index, (seq, canonical) in enumerate(rows):
        entry = json.loads(canonical)
        entry["index"] = index
        # RFC 8785 (JCS) for these value types, exactly as netid.audit.service encodes entries.
        encoded = json.dumps(
            entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        leaf = hasher.leaf(encoded)
        frontier, completed = append(hasher, frontier, leaf)
        conn.execute(
            record.update()
            .where(record.c.seq == seq)
            .values(canonical=encoded, log_index=index, leaf_hash=leaf)
        )
        conn.execute(
            node.insert(), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in completed]
        )
    conn.execute(
        head.insert().values(id=1, hash_alg="sm3", size=frontier.size, frontier=frontier.to_bytes())
    )


def downgrade() -> None:
    unsafe_drop_append_only_triggers(op.get_bind())
    with op.batch_alter_table("access_record", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_access_record_log_index"), type_="unique")
        batch_op.drop_column("leaf_hash")
        batch_op.drop_column("log_index")
    op.drop_table("log_checkpoint")
    op.drop_table("log_node")
    op.drop_table("log_head")
