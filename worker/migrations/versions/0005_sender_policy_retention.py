"""Sender policy and retention: external/auth flags, linked tickets, purge marks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('external', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('auth_failures', sa.JSON(), nullable=False,
                                   server_default='[]'))
        batch.add_column(sa.Column('linked_ticket_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key('fk_tickets_linked_ticket_id', 'tickets',
                                 ['linked_ticket_id'], ['id'])
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('purged_at')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_constraint('fk_tickets_linked_ticket_id', type_='foreignkey')
        batch.drop_column('purged_at')
        batch.drop_column('linked_ticket_id')
        batch.drop_column('auth_failures')
        batch.drop_column('external')
