"""Staff accounts: a session epoch, raised on logout, password reset or disable, ends sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_accounts') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('staff_accounts') as batch:
        batch.drop_column('session_epoch')
