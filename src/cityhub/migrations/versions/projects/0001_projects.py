"""projects: major projects tracker (projects, milestones, documents, news links)

Revision ID: projects_0001
Revises:
Create Date: 2026-11-27 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "projects_0001"
down_revision = None
branch_labels = ("projects",)
depends_on = ("core_0001",)

UTC = cityhub.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300)),
        sa.Column("summary", sa.Text()),
        sa.Column("summary_en", sa.Text()),
        sa.Column("details", sa.Text()),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("department_org_id", sa.String(36),
                  sa.ForeignKey("organizations.id", name="fk_projects_department_org_id_organizations",
                                ondelete="RESTRICT"), nullable=False),
        sa.Column("officer_name", sa.String(200)),
        sa.Column("officer_contact", sa.String(200)),
        sa.Column("budget_krw", sa.BigInteger()),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("district", sa.String(64)),
        sa.Column("lon", sa.Float()),
        sa.Column("lat", sa.Float()),
        sa.Column("access_level", sa.String(20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.UniqueConstraint("slug", name="uq_projects_slug"),
    )
    op.create_index("ix_projects_department_org_id", "projects", ["department_org_id"])
    op.create_index("ix_projects_district", "projects", ["district"])
    op.create_index("ix_projects_status", "projects", ["status"])
    op.create_table(
        "project_milestones",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(36),
                  sa.ForeignKey("projects.id", name="fk_project_milestones_project_id_projects", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300)),
        sa.Column("planned_start", sa.Date(), nullable=False),
        sa.Column("planned_end", sa.Date(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("completed_on", sa.Date()),
    )
    op.create_index("ix_project_milestones_project_id", "project_milestones", ["project_id"])
    op.create_table(
        "project_documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(36),
                  sa.ForeignKey("projects.id", name="fk_project_documents_project_id_projects", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("mimetype", sa.String(200)),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file_path", sa.String(200), nullable=False),
        sa.Column("uploaded_by", sa.String(36)),
        sa.Column("uploaded_at", UTC(), nullable=False),
    )
    op.create_index("ix_project_documents_project_id", "project_documents", ["project_id"])
    op.create_table(
        "project_links",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(36),
                  sa.ForeignKey("projects.id", name="fk_project_links_project_id_projects", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("source", sa.String(200)),
        sa.Column("published_on", sa.Date()),
        sa.Column("created_at", UTC(), nullable=False),
    )
    op.create_index("ix_project_links_project_id", "project_links", ["project_id"])


def downgrade() -> None:
    for table in ("project_links", "project_documents", "project_milestones", "projects"):
        op.drop_table(table)
