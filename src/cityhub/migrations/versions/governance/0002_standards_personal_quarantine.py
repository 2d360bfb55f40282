"""governance: standard terms, code lists, dataset schemas, personal-data findings, quarantine

Revision ID: governance_0002
Revises: governance_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "governance_0002"
down_revision = "governance_0001"
branch_labels = None
depends_on = ("core_0001",)


def _dt() -> cityhub.db.UTCDateTime:
    return cityhub.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    terms = op.create_table(
        "gov_standard_terms",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name_ko", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("abbr", sa.String(60), nullable=False),
        sa.Column("domain", sa.String(60), nullable=False),
        sa.Column("data_type", sa.String(20), nullable=False),
        sa.Column("length", sa.Integer()),
        sa.Column("scale", sa.Integer()),
        sa.Column("format", sa.String(100)),
        sa.Column("description", sa.Text()),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _dt(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_standard_terms")),
        sa.UniqueConstraint("name_ko", name=op.f("uq_gov_standard_terms_name_ko")),
    )
    op.create_index(op.f("ix_gov_standard_terms_abbr"), "gov_standard_terms", ["abbr"])
    code_lists = op.create_table(
        "gov_code_lists",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300)),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("updated_at", _dt(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gov_code_lists")),
    )
    op.create_table(
        "gov_dataset_schemas",
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("table_schema", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(36)),
        sa.Column("updated_at", _dt(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name=op.f("fk_gov_dataset_schemas_dataset_id_datasets")),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_gov_dataset_schemas")),
    )
    op.create_table(
        "gov_personal_columns",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("column_name", sa.String(200), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("matches", sa.BigInteger(), nullable=False),
        sa.Column("example", sa.String(300)),
        sa.Column("blocking", sa.Boolean(), nullable=False),
        sa.Column("treatment", sa.String(20)),
        sa.Column("treated_by", sa.String(36)),
        sa.Column("treated_at", _dt()),
        sa.Column("detected_at", _dt(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_personal_columns")),
        sa.UniqueConstraint("resource_id", "column_name", name=op.f("uq_gov_personal_columns_resource_id")),
    )
    op.create_index(op.f("ix_gov_personal_columns_dataset_id"), "gov_personal_columns", ["dataset_id"])
    op.create_index(op.f("ix_gov_personal_columns_resource_id"), "gov_personal_columns", ["resource_id"])
    op.create_table(
        "gov_quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("resource_id", sa.String(36)),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("line", sa.BigInteger()),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("resolved_by", sa.String(36)),
        sa.Column("resolved_at", _dt()),
        sa.Column("created_at", _dt(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_quarantine")),
    )
    op.create_index("ix_gov_quarantine_dataset", "gov_quarantine", ["dataset_id", "status", "id"])
    op.create_index(op.f("ix_gov_quarantine_resource_id"), "gov_quarantine", ["resource_id"])
    _seed(terms, code_lists)


def _seed(terms: sa.Table, code_lists: sa.Table) -> None:
    """The standard-term dictionary and Busan's district code list ship as data files."""
    from cityhub.governance.standards import load_seed_codes, load_seed_terms

    op.bulk_insert(terms, load_seed_terms())
    op.bulk_insert(code_lists, load_seed_codes())


def downgrade() -> None:
    for table in ("gov_quarantine", "gov_personal_columns", "gov_dataset_schemas", "gov_code_lists",
                  "gov_standard_terms"):
        op.drop_table(table)
