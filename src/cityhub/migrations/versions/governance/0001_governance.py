"""governance: append-only audit log

Revision ID: governance_0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "governance_0001"
down_revision = None
branch_labels = ("governance",)
depends_on = ("core_0001",)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", cityhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.String(36)),
        sa.Column("actor_email", sa.String(320)),
        sa.Column("actor_role", sa.String(20)),
        sa.Column("token_id", sa.String(36)),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("resource_kind", sa.String(60)),
        sa.Column("resource_id", sa.String(200)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("detail", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_user_id", "at"])
    op.create_index("ix_audit_log_resource", "audit_log", ["resource_id", "at"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    # The trail cannot be edited through any API — nor through SQL: the database refuses.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    op.drop_table("audit_log")
