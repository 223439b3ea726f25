"""monitoring: per-institution monitor rows (lock + business hours), counter window marks,
alerts, watch list

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_institution",
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("business_hours", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_monitor_institution_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("institution_id", name=op.f("pk_monitor_institution")),
    )
    op.create_table(
        "monitor_mark",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("counter", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_monitor_mark")),
    )
    op.create_index(
        "uq_monitor_mark_member", "monitor_mark", ["scope", "counter", "member"], unique=True
    )
    op.create_index("ix_monitor_mark_window", "monitor_mark", ["scope", "counter", "at_ms"])
    op.create_index("ix_monitor_mark_last", "monitor_mark", ["scope", "counter", "seq"])
    op.create_table(
        "monitor_alert",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolution_reason", sa.String(length=1024), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_monitor_alert_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alert")),
    )
    op.create_index(op.f("ix_monitor_alert_institution_id"), "monitor_alert", ["institution_id"])
    op.create_index("ix_monitor_alert_open", "monitor_alert", ["status", "created_at"])
    op.create_table(
        "watch_entry",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number_index", sa.LargeBinary(), nullable=False),
        sa.Column("index_key_id", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_entry")),
        sa.UniqueConstraint("number_index", name=op.f("uq_watch_entry_number_index")),
    )


def downgrade() -> None:
    op.drop_table("watch_entry")
    op.drop_index("ix_monitor_alert_open", table_name="monitor_alert")
    op.drop_index(op.f("ix_monitor_alert_institution_id"), table_name="monitor_alert")
    op.drop_table("monitor_alert")
    op.drop_index("ix_monitor_mark_last", table_name="monitor_mark")
    op.drop_index("ix_monitor_mark_window", table_name="monitor_mark")
    op.drop_index("uq_monitor_mark_member", table_name="monitor_mark")
    op.drop_table("monitor_mark")
    op.drop_table("monitor_institution")
