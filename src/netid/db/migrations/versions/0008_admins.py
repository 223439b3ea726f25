"""admins: administrator accounts (one role each, argon2id, sealed TOTP secret, lockout)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_account",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("session_jti", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        # One account, exactly one of the five roles (issue 4 §2).
        sa.CheckConstraint(
            "role IN ('system_admin', 'security_admin', 'audit_admin', 'registrar', 'reviewer')",
            name=op.f("ck_admin_account_one_known_role"),
        ),
        sa.CheckConstraint(
            "failed_count >= 0", name=op.f("ck_admin_account_failed_count_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_account")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_account_username")),
    )


def downgrade() -> None:
    op.drop_table("admin_account")
