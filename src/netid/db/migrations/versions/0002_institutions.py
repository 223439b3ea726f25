"""institutions: onboarding, status history, quotas

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "institution",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("industry", sa.String(length=64), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("location", sa.String(length=16), nullable=False),
        sa.Column("agreement_version", sa.String(length=64), nullable=False),
        sa.Column("website", sa.String(length=512), nullable=True),
        sa.Column("sector", sa.String(length=255), nullable=True),
        sa.Column("application_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwks", sa.JSON(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("price_plan", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution")),
        sa.UniqueConstraint("client_id", name=op.f("uq_institution_client_id")),
        sa.UniqueConstraint("code", name=op.f("uq_institution_code")),
    )
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_institution_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_institution_uscc"), ["uscc"], unique=False)

    op.create_table(
        "institution_status_change",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=1024), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_institution_status_change_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution_status_change")),
    )
    with op.batch_alter_table("institution_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_institution_status_change_institution_id"),
            ["institution_id"],
            unique=False,
        )

    op.create_table(
        "institution_quota",
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("verification_type", sa.String(length=32), nullable=False),
        sa.Column("monthly_limit", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_institution_quota_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint(
            "institution_id", "verification_type", name=op.f("pk_institution_quota")
        ),
    )
    op.create_table(
        "quota_usage",
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("verification_type", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_quota_usage_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint(
            "institution_id", "verification_type", "month", name=op.f("pk_quota_usage")
        ),
    )


def downgrade() -> None:
    op.drop_table("quota_usage")
    op.drop_table("institution_quota")
    with op.batch_alter_table("institution_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_institution_status_change_institution_id"))
    op.drop_table("institution_status_change")
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_institution_uscc"))
        batch_op.drop_index(batch_op.f("ix_institution_status"))
    op.drop_table("institution")
