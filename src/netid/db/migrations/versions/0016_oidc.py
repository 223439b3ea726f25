"""oidc tables (issue 6, docs/decisions/0006)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _person_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["person_id"], ["person.id"], name=op.f(f"fk_{table}_person_id_person"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "oidc_client",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("sector_identifier_uri", sa.String(length=2000), nullable=True),
        sa.Column("sector", sa.String(length=255), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=32), nullable=False),
        sa.Column("secret_mac", sa.LargeBinary(), nullable=True),
        sa.Column("secret_key_id", sa.String(length=8), nullable=True),
        sa.Column("id_token_alg", sa.String(length=8), nullable=False),
        sa.Column("default_purpose", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oidc_client")),
        sa.UniqueConstraint("institution_id", name=op.f("uq_oidc_client_institution_id")),
    )
    op.create_table(
        "oidc_authorization",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("handle_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("browser_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=256), nullable=False),
        sa.Column("claims", sa.String(length=256), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=1024), nullable=True),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("code_challenge", sa.String(length=64), nullable=False),
        sa.Column("acr_min", sa.String(length=2), nullable=True),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("prompt", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("acr", sa.String(length=2), nullable=True),
        sa.Column("amr", sa.String(length=64), nullable=True),
        sa.Column("auth_time", _TS, nullable=True),
        sa.Column("session_sid", sa.String(length=32), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        _person_fk("oidc_authorization"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_authorization")),
        sa.UniqueConstraint("handle_hash", name=op.f("uq_oidc_authorization_handle_hash")),
    )
    op.create_index(op.f("ix_oidc_authorization_person_id"), "oidc_authorization", ["person_id"])
    op.create_index(op.f("ix_oidc_authorization_expires_at"), "oidc_authorization", ["expires_at"])
    op.create_table(
        "oidc_grant",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("code_challenge", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("scope", sa.String(length=256), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("sub", sa.String(length=64), nullable=False),
        sa.Column("sid", sa.String(length=32), nullable=True),
        sa.Column("acr", sa.String(length=2), nullable=False),
        sa.Column("amr", sa.String(length=64), nullable=False),
        sa.Column("auth_time", _TS, nullable=False),
        sa.Column("claims_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("consent_ids", sa.String(length=512), nullable=False),
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("code_expires_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        _person_fk("oidc_grant"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_grant")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oidc_grant_code_hash")),
    )
    op.create_index(op.f("ix_oidc_grant_client_id"), "oidc_grant", ["client_id"])
    op.create_index(op.f("ix_oidc_grant_person_id"), "oidc_grant", ["person_id"])
    op.create_index(op.f("ix_oidc_grant_expires_at"), "oidc_grant", ["expires_at"])
    op.create_table(
        "oidc_session",
        sa.Column("cookie_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sid", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("institution_id", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("acr", sa.String(length=2), nullable=False),
        sa.Column("amr", sa.String(length=64), nullable=False),
        sa.Column("auth_time", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        _person_fk("oidc_session"),
        sa.PrimaryKeyConstraint("cookie_hash", name=op.f("pk_oidc_session")),
        sa.UniqueConstraint("sid", name=op.f("uq_oidc_session_sid")),
    )
    op.create_index(op.f("ix_oidc_session_person_id"), "oidc_session", ["person_id"])
    op.create_index(op.f("ix_oidc_session_expires_at"), "oidc_session", ["expires_at"])


def downgrade() -> None:
    for table in ("oidc_session", "oidc_grant", "oidc_authorization", "oidc_client"):
        op.drop_table(table)
