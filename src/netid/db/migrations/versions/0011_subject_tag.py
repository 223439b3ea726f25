"""access_record.subject_tag: the person's own entries, found by a tag under their key

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column and an index: no row is rewritten (entries before this revision have
    # no tag; the person's key can still find them by opening every reference, which
    # `entries_of_person` does not do — their self-query starts here).
    op.add_column("access_record", sa.Column("subject_tag", sa.LargeBinary(), nullable=True))
    op.create_index(op.f("ix_access_record_subject_tag"), "access_record", ["subject_tag"])


def downgrade() -> None:
    op.drop_index(op.f("ix_access_record_subject_tag"), table_name="access_record")
    op.drop_column("access_record", "subject_tag")
