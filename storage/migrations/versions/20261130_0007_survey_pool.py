"""survey pool

Finished questionnaires wait here until at least k of them can be written to survey_response
and survey_answer together, in random order: on PostgreSQL a response then shares its
transaction id (xmin) with a batch, not with the participation row of the person who wrote it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('survey_pool',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('survey_pool', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_pool_survey_id'), ['survey_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('survey_pool', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_pool_survey_id'))

    op.drop_table('survey_pool')
