"""oauth: the client-assertion replay cache

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_assertion",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("jti_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_used_assertion")),
        sa.UniqueConstraint("client_id", "jti_hash", name="uq_used_assertion_jti"),
    )
    with op.batch_alter_table("used_assertion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_assertion_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("used_assertion")
