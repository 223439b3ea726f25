"""merge the issue 5 branches (enrolment, citizens, qr nonce)

Revision ID: 0015
Revises: 0012, 0013, 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0015"
down_revision = ("0012", "0013", "0014")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
