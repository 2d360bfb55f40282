"""collect: a run's error code (a time limit resumes), broker drops and sequence gaps it noticed

Revision ID: collect_0003
Revises: collect_0002
Create Date: 2026-12-07 13:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'collect_0003'
down_revision = 'collect_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('collect_runs') as batch:
        batch.add_column(sa.Column('error_code', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('broker_dropped', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('messages_missing', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('collect_runs') as batch:
        batch.drop_column('messages_missing')
        batch.drop_column('broker_dropped')
        batch.drop_column('error_code')
