"""quote consent

field_update.quotable: she agreed, when she sent it, that its words may be quoted without her
name in country briefs for policy meetings (only once approved, only where her country has at
least k members). False for every update sent before the question was asked. Deleted with the
update by /forget and retention.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('field_update', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('quotable', sa.Boolean(), server_default=sa.text('false'), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('field_update', schema=None) as batch_op:
        batch_op.drop_column('quotable')
