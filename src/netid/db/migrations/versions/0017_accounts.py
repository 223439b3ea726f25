"""password accounts for people without the wallet (issue 6, docs/decisions/0006)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _person_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["person_id"], ["person.id"], name=op.f(f"fk_{table}_person_id_person"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "password_account",
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        _person_fk("password_account"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_password_account")),
    )
    op.create_table(
        "account_code",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=True),
        sa.Column("code_mac", sa.LargeBinary(), nullable=False),
        sa.Column("mac_key_id", sa.String(length=8), nullable=False),
        sa.Column("number_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _person_fk("account_code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_code")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_account_code_secret_hash")),
    )
    op.create_index(op.f("ix_account_code_person_id"), "account_code", ["person_id"])
    op.create_index(op.f("ix_account_code_mac_key_id"), "account_code", ["mac_key_id"])
    op.create_index(op.f("ix_account_code_created_at"), "account_code", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_account_code_created_at"), table_name="account_code")
    op.drop_index(op.f("ix_account_code_mac_key_id"), table_name="account_code")
    op.drop_index(op.f("ix_account_code_person_id"), table_name="account_code")
    op.drop_table("account_code")
    op.drop_table("password_account")
