"""respondent salt

Public-survey respondents were remembered by an HMAC whose key sat in the database (app_secret),
so a copy of the database reversed them by hashing every candidate id. The key now derives from
WASL_SECRET_KEY, kept outside the database, and a per-survey salt (survey.respondent_salt) that
the close destroys. The old key is dropped, and the hashes made with it, which nothing can
match any more, go too.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('respondent_salt', sa.String(length=64), nullable=True))
    op.execute('DELETE FROM survey_public_seen')
    op.drop_table('app_secret')


def downgrade() -> None:
    op.create_table('app_secret',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.drop_column('respondent_salt')
