"""qr_nonce: the one-time nonces of dynamic QR codes (issue 5, docs/decisions/0005)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qr_nonce",
        sa.Column("nonce", sa.LargeBinary(16), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_qr_nonce_expires_at"), "qr_nonce", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_qr_nonce_expires_at"), table_name="qr_nonce")
    op.drop_table("qr_nonce")
