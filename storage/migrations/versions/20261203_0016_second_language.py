"""second language

member.second_locale: a language she also reads, chosen at onboarding or with /language;
tips and surveys not yet in her language are shown in it. Deleted with her row by /forget.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_locale', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('second_locale')
