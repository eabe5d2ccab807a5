"""Worker under faults: who claimed a reply being sent; poll failure alert state per mailbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('claimed_by', sa.String(length=200), nullable=True))
    with op.batch_alter_table('mailbox_state') as batch:
        batch.add_column(sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mailbox_state') as batch:
        batch.drop_column('alerted_at')
        batch.drop_column('failing_since')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('claimed_by')
