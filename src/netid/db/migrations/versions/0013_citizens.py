"""citizens tables (issue 5, docs/decisions/0005)

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "method_lock",
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("unlocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method IN ('document', 'qr', 'credential')", name=op.f("ck_method_lock_method_known")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_method_lock_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "method", name=op.f("pk_method_lock")),
    )
    op.create_table(
        "citizen_request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("addressee_id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("institution_id", sa.String(length=32), nullable=True),
        sa.Column("institution_code", sa.String(length=32), nullable=True),
        sa.Column("institution_name", sa.String(length=256), nullable=True),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("claims", sa.String(length=256), nullable=False),
        sa.Column("verification_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('consent', 'guardian_use', 'guardian_enrolment')",
            name=op.f("ck_citizen_request_kind_known"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'denied', 'expired', 'used')",
            name=op.f("ck_citizen_request_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_citizen_request_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["addressee_id"],
            ["person.id"],
            name=op.f("fk_citizen_request_addressee_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_request")),
        sa.UniqueConstraint("pending_key", name=op.f("uq_citizen_request_pending_key")),
    )
    with op.batch_alter_table("citizen_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_citizen_request_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_citizen_request_addressee_id"), ["addressee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_citizen_request_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            "ix_citizen_request_subject",
            ["person_id", "institution_id", "purpose", "state"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("citizen_request")
    op.drop_table("method_lock")
