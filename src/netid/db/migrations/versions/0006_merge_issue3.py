"""join the issue-3 branches (institutions, oauth, billing, verification)

The four were written in parallel, each on top of 0001; this revision makes the history one
line again, so `alembic heads` has a single answer.

Revision ID: 0006
Revises: 0002, 0003, 0004, 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0006"
down_revision = ("0002", "0003", "0004", "0005")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
