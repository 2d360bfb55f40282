"""collect: a time limit for a whole run per source

Revision ID: collect_0002
Revises: collect_0001
Create Date: 2026-12-07 11:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'collect_0002'
down_revision = 'collect_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('collect_sources') as batch:
        batch.add_column(sa.Column('run_timeout_seconds', sa.Float(), nullable=False, server_default='3600'))


def downgrade() -> None:
    with op.batch_alter_table('collect_sources') as batch:
        batch.drop_column('run_timeout_seconds')
