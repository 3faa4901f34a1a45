"""reply outbox

Replies to a person go through the outbox too, written in the update's own transaction: a reply
row has no campaign, may have no member (she has not joined, or has just erased herself), and so
carries its own chat id, the message it edits and its layout. `attempted_at` records a send that
timed out after it may have reached her, so it is not sent again blindly.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('chat_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('edit_message_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('layout', sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column('attempted_at', storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE member_id IS NULL")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('attempted_at')
        batch_op.drop_column('layout')
        batch_op.drop_column('edit_message_id')
        batch_op.drop_column('chat_id')
        batch_op.alter_column('member_id', existing_type=sa.Integer(), nullable=False)
