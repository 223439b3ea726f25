"""enrolment tables (issue 5, docs/decisions/0005)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _upgrade_enrolment()  # netid.enrolment: see the block below
    _upgrade_sms()  # netid.sms: see the block at the end of this file


def downgrade() -> None:
    _downgrade_sms()  # netid.sms: see the block at the end of this file
    _downgrade_enrolment()


# -- netid.enrolment (owner: enrolment) ---------------------------------------------------------
# Network IDs, enrolments, credentials, one-time codes, status lists, device proof replay
# guard, the face template collected at enrolment. person_id (the shard key) on every
# person-owned row; personal values sealed (see netid.enrolment.models).
def _person_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["person_id"], ["person.id"], name=op.f(f"fk_{table}_person_id_person"), ondelete="CASCADE"
    )


def _upgrade_enrolment() -> None:
    op.create_table(
        "network_identity",
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("net_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("account_key_id", sa.String(length=8), nullable=True),
        sa.Column("account_key_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("data_key_id", sa.String(length=8), nullable=True),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deregistered_at", sa.DateTime(timezone=True), nullable=True),
        _person_fk("network_identity"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_network_identity")),
        sa.UniqueConstraint("net_id", name=op.f("uq_network_identity_net_id")),
    )
    op.create_index(op.f("ix_network_identity_data_key_id"), "network_identity", ["data_key_id"])
    op.create_table(
        "enrolment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("supervision", sa.String(length=24), nullable=False),
        sa.Column("guardian_person_id", sa.String(length=32), nullable=True),
        sa.Column("guardian_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_jwk", sa.Text(), nullable=False),
        sa.Column("device_thumbprint", sa.String(length=64), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("face_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("face_model", sa.String(length=64), nullable=True),
        sa.Column("face_failures", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        _person_fk("enrolment"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_enrolment_secret_hash")),
    )
    op.create_index(op.f("ix_enrolment_person_id"), "enrolment", ["person_id"])
    op.create_index(op.f("ix_enrolment_guardian_person_id"), "enrolment", ["guardian_person_id"])
    op.create_table(
        "status_list",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_list")),
    )
    op.create_table(
        "credential",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("enrolment_id", sa.String(length=32), nullable=False),
        sa.Column("device_jwk", sa.Text(), nullable=False),
        sa.Column("device_thumbprint", sa.String(length=64), nullable=False),
        sa.Column("pin_hash", sa.String(length=256), nullable=True),
        sa.Column("failed_pins", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("status_list_id", sa.String(length=32), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signing_key_id", sa.String(length=8), nullable=True),
        _person_fk("credential"),
        sa.ForeignKeyConstraint(
            ["status_list_id"],
            ["status_list.id"],
            name=op.f("fk_credential_status_list_id_status_list"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential")),
        sa.UniqueConstraint("status_list_id", "status_index", name="uq_credential_status_slot"),
    )
    op.create_index(op.f("ix_credential_person_id"), "credential", ["person_id"])
    op.create_index(op.f("ix_credential_device_thumbprint"), "credential", ["device_thumbprint"])
    op.create_index(op.f("ix_credential_signing_key_id"), "credential", ["signing_key_id"])
    op.create_table(
        "one_time_code",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("code_mac", sa.LargeBinary(), nullable=False),
        sa.Column("mac_key_id", sa.String(length=8), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        _person_fk("one_time_code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_code")),
        sa.UniqueConstraint("purpose", "owner_id", name="uq_one_time_code_owner"),
    )
    op.create_index(op.f("ix_one_time_code_person_id"), "one_time_code", ["person_id"])
    op.create_table(
        "device_proof_use",
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("thumbprint", "jti", name=op.f("pk_device_proof_use")),
    )
    op.create_index(op.f("ix_device_proof_use_expires_at"), "device_proof_use", ["expires_at"])
    op.create_table(
        "collected_face",
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("template_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("face_key_id", sa.String(length=8), nullable=False),
        sa.Column("enrolment_id", sa.String(length=32), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        _person_fk("collected_face"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_collected_face")),
    )
    op.create_index("ix_collected_face_face_key_id", "collected_face", ["face_key_id"])


def _downgrade_enrolment() -> None:
    for table in (
        "collected_face",
        "device_proof_use",
        "one_time_code",
        "credential",
        "status_list",
        "enrolment",
        "network_identity",
    ):
        op.drop_table(table)


# -- end of netid.enrolment ---------------------------------------------------------------------


# -- netid.sms (owner: sms) ---------------------------------------------------------------------
# The embedded SMS sender's outbox: phone and text sealed under the data key (AAD
# sms_outbox|column|id|key id); key_id names that key for rotation. No foreign key: a message
# belongs to a phone number, not to a registry row.
def _upgrade_sms() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
    )
    op.create_index("ix_sms_outbox_created_at", "sms_outbox", ["created_at"])
    op.create_index(op.f("ix_sms_outbox_key_id"), "sms_outbox", ["key_id"])


def _downgrade_sms() -> None:
    op.drop_index(op.f("ix_sms_outbox_key_id"), table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_created_at", table_name="sms_outbox")
    op.drop_table("sms_outbox")


# -- end of netid.sms ---------------------------------------------------------------------------
