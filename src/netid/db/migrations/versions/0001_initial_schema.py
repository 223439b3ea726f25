"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_record",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("subject_ref_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_record")),
        sa.UniqueConstraint("id", name=op.f("uq_access_record_id")),
    )
    op.create_table(
        "keyring",
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("master_key_id", sa.String(length=8), nullable=True),
        sa.Column("public", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_keyring")),
    )
    with op.batch_alter_table("keyring", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_keyring_purpose"), ["purpose"], unique=False)

    op.create_table(
        "person",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("attributes_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("phones_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_person_subject_id")),
    )
    op.create_table(
        "document",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("type_code", sa.String(length=2), nullable=False),
        sa.Column("number_index", sa.LargeBinary(), nullable=False),
        sa.Column("index_key_id", sa.String(length=8), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_document_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("number_index", name=op.f("uq_document_number_index")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_index_key_id"), ["index_key_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_person_id"), ["person_id"], unique=False)

    op.create_table(
        "face_template",
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("template_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("face_key_id", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_face_template_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_face_template")),
    )
    with op.batch_alter_table("face_template", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_face_template_face_key_id"), ["face_key_id"], unique=False
        )

    op.create_table(
        "guardian_link",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ward_id", sa.String(length=32), nullable=False),
        sa.Column("guardian_id", sa.String(length=32), nullable=False),
        sa.Column("relation_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guardian_id"],
            ["person.id"],
            name=op.f("fk_guardian_link_guardian_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"],
            ["person.id"],
            name=op.f("fk_guardian_link_ward_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardian_link")),
    )
    with op.batch_alter_table("guardian_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_guardian_link_guardian_id"), ["guardian_id"], unique=False
        )
        batch_op.create_index("ix_guardian_link_pair", ["ward_id", "guardian_id"], unique=True)

    op.create_table(
        "person_key",
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_id", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_person_key_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_key")),
    )
    with op.batch_alter_table("person_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_key_data_key_id"), ["data_key_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("person_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_key_data_key_id"))

    op.drop_table("person_key")
    with op.batch_alter_table("guardian_link", schema=None) as batch_op:
        batch_op.drop_index("ix_guardian_link_pair")
        batch_op.drop_index(batch_op.f("ix_guardian_link_guardian_id"))

    op.drop_table("guardian_link")
    with op.batch_alter_table("face_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_template_face_key_id"))

    op.drop_table("face_template")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_person_id"))
        batch_op.drop_index(batch_op.f("ix_document_index_key_id"))

    op.drop_table("document")
    op.drop_table("person")
    with op.batch_alter_table("keyring", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keyring_purpose"))

    op.drop_table("keyring")
    op.drop_table("access_record")
