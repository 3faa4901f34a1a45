"""answer spheres

survey_answer.spheres: the response's spheres as bits, so that a report by sphere counts
answers in one pass over ix_survey_answer_report instead of joining every answer to
survey_response_sphere (1.7 s for a million answers on SQLite). Filled for existing answers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As storage.tables.SPHERE_BITS was when this ran (a migration never reads live code).
BITS = {
    "youth": 1,
    "pluralism": 2,
    "religion": 4,
    "rights": 8,
    "vaw": 16,
    "narratives": 32,
    "media": 64,
    "advocacy": 128,
}
COLUMNS = ['survey_id', 'question', 'option', 'number', 'country', 'week', 'locale', 'channel', 'age_band', 'gender']


def upgrade() -> None:
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spheres', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.drop_index('ix_survey_answer_report')
        batch_op.create_index('ix_survey_answer_report', [*COLUMNS, 'spheres'], unique=False)
    cases = " ".join(f"WHEN '{code}' THEN {bit}" for code, bit in BITS.items())
    op.execute(
        "UPDATE survey_answer SET spheres = ("
        f"SELECT COALESCE(SUM(CASE s.sphere {cases} ELSE 0 END), 0) "
        "FROM survey_response_sphere s WHERE s.response_id = survey_answer.response_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answer_report')
        batch_op.create_index('ix_survey_answer_report', COLUMNS, unique=False)
        batch_op.drop_column('spheres')
