"""survey counters

Survey answers become counters: (survey, question, answer, dimension, value) → count, and free
text goes to its own table with no attribute. survey_response, survey_answer,
survey_response_sphere and survey_pool are folded into them and dropped: each per-value group
with fewer than k respondents (WASL_MIN_CELL, 5 unless set) is left out, so no counter stands
for fewer than k people. Finished questionnaires now wait in their author's conversation state
(conversation_state.survey_pending) until counted.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 18:30:00
"""

import os
import secrets
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKETS = 5


def _bucket(definition: dict[str, Any], key: str, number: float) -> str:
    """As bot.core.surveys.number_bucket was when this ran (a migration never reads live code)."""
    question: dict[str, Any] = next(
        (q for q in definition.get('questions', []) if q.get('key') == key), {}
    )
    low = float(question.get('min') or 0.0)
    high = float(question['max']) if question.get('max') is not None else low
    if low.is_integer() and high.is_integer():
        width = float(max(1, -(-(high - low + 1) // BUCKETS)))
        count = int(-(-(high - low + 1) // width))
    else:
        width = (high - low) / BUCKETS or 1.0
        count = BUCKETS
    return f"#{max(0, min(count - 1, int((number - low) // width)))}"


def _fold(conn: Any, k: int) -> None:
    """Existing responses and pooled answers, counted; small groups left out; text kept apart."""
    import json

    surveys = {
        row.id: (json.loads(row.definition) if isinstance(row.definition, str) else row.definition)
        for row in conn.execute(sa.text('SELECT id, definition FROM survey'))
    }
    people: dict[str, dict[str, Any]] = {}
    for r in conn.execute(sa.text(
        'SELECT id, survey_id, country, locale, channel, age_band, gender FROM survey_response'
    )):
        people[r.id] = {
            'survey': r.survey_id, 'answers': [], 'texts': [],
            'groups': {'none': [''], 'country': [r.country or ''], 'language': [r.locale],
                       'channel': [r.channel], 'age': [r.age_band or ''],
                       'gender': [r.gender or ''], 'sphere': []},
        }
    for r in conn.execute(sa.text('SELECT response_id, sphere FROM survey_response_sphere')):
        if r.response_id in people:
            people[r.response_id]['groups']['sphere'].append(r.sphere)
    for r in conn.execute(sa.text(
        'SELECT response_id, question, option, number, text FROM survey_answer'
    )):
        person = people.get(r.response_id)
        if person is None:
            continue
        definition = surveys.get(person['survey'], {})
        kind = next(
            (q.get('type') for q in definition.get('questions', []) if q.get('key') == r.question),
            None,
        )
        if r.text is not None:
            person['answers'].append((r.question, ''))
            person['texts'].append((r.question, r.text))
        elif kind == 'number' and r.number is not None:
            person['answers'].append((r.question, _bucket(definition, r.question, r.number)))
        else:
            person['answers'].append((r.question, r.option))
    for r in conn.execute(sa.text('SELECT survey_id, data FROM survey_pool')):
        data = json.loads(r.data) if isinstance(r.data, str) else r.data
        dims = data.get('dims') or {}
        definition = surveys.get(r.survey_id, {})
        answers: list[tuple[str, str]] = []
        texts: list[tuple[str, str]] = []
        for key, value in (data.get('answers') or {}).items():
            kind = next(
                (q.get('type') for q in definition.get('questions', []) if q.get('key') == key),
                None,
            )
            if value is None:
                continue
            if isinstance(value, list):
                answers += [(key, str(v)) for v in value]
            elif kind == 'text':
                answers.append((key, ''))
                texts.append((key, str(value)))
            elif kind == 'number':
                answers.append((key, _bucket(definition, key, float(value))))
            else:
                answers.append((key, str(value)))
        people[secrets.token_hex(16)] = {
            'survey': r.survey_id, 'answers': answers, 'texts': texts,
            'groups': {'none': [''], 'country': [dims.get('country') or ''],
                       'language': [dims.get('locale') or ''], 'channel': [dims.get('channel') or ''],
                       'age': [dims.get('age_band') or ''], 'gender': [dims.get('gender') or ''],
                       'sphere': list(dims.get('spheres') or [])},
        }
    heads: Counter[tuple[int, str, str]] = Counter()
    for person in people.values():
        for dimension, values in person['groups'].items():
            for value in values:
                heads[(person['survey'], dimension, value)] += 1
    counts: Counter[tuple[int, str, str, str, str]] = Counter()
    texts_out = []
    for person in people.values():
        survey = person['survey']
        for dimension, values in person['groups'].items():
            for value in values:
                if heads[(survey, dimension, value)] < k:
                    continue
                counts[(survey, '', '', dimension, value)] += 1
                for question, answer in person['answers']:
                    counts[(survey, question, answer, dimension, value)] += 1
        texts_out += [
            {'id': secrets.token_hex(16), 'survey_id': survey, 'question': q, 'text': t}
            for q, t in person['texts']
        ]
    secrets.SystemRandom().shuffle(texts_out)
    if counts:
        conn.execute(
            sa.text(
                'INSERT INTO survey_count (survey_id, question, answer, dimension, value, count) '
                'VALUES (:s, :q, :a, :d, :v, :n)'
            ),
            [{'s': s, 'q': q, 'a': a, 'd': d, 'v': v, 'n': n}
             for (s, q, a, d, v), n in counts.items()],
        )
    if texts_out:
        conn.execute(
            sa.text(
                'INSERT INTO survey_text (id, survey_id, question, text) '
                'VALUES (:id, :survey_id, :question, :text)'
            ),
            texts_out,
        )


def upgrade() -> None:
    op.create_table('survey_count',
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=16), nullable=False),
    sa.Column('answer', sa.String(length=16), nullable=False),
    sa.Column('dimension', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('survey_id', 'question', 'answer', 'dimension', 'value'),
    sqlite_with_rowid=False
    )
    op.create_table('survey_text',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=280), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('survey_text', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_text_survey_id'), ['survey_id'], unique=False)
    with op.batch_alter_table('conversation_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('survey_pending', sa.JSON(), nullable=True))
    _fold(op.get_bind(), max(2, int(os.environ.get('WASL_MIN_CELL') or 5)))
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answer_report')
    op.drop_table('survey_answer')
    op.drop_table('survey_response_sphere')
    with op.batch_alter_table('survey_pool', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_pool_survey_id'))
    op.drop_table('survey_pool')
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_response_survey_id'))
    op.drop_table('survey_response')


def downgrade() -> None:
    """The tables come back empty: counters cannot be split back into respondents."""
    op.create_table('survey_response',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('week', sa.String(length=10), nullable=False),
    sa.Column('age_band', sa.String(length=8), nullable=True),
    sa.Column('gender', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_response_survey_id'), ['survey_id'], unique=False)
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
    op.create_table('survey_response_sphere',
    sa.Column('response_id', sa.String(length=32), nullable=False),
    sa.Column('sphere', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['survey_response.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'sphere'),
    sqlite_with_rowid=False
    )
    op.create_table('survey_answer',
    sa.Column('response_id', sa.String(length=32), nullable=False),
    sa.Column('question', sa.String(length=16), nullable=False),
    sa.Column('option', sa.String(length=16), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Float(), nullable=True),
    sa.Column('text', sa.String(length=280), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('week', sa.String(length=10), nullable=False),
    sa.Column('age_band', sa.String(length=8), nullable=True),
    sa.Column('gender', sa.String(length=16), nullable=True),
    sa.Column('spheres', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['survey_response.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'question', 'option'),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.create_index('ix_survey_answer_report', ['survey_id', 'question', 'option', 'number', 'country', 'week', 'locale', 'channel', 'age_band', 'gender', 'spheres'], unique=False)
    with op.batch_alter_table('conversation_state', schema=None) as batch_op:
        batch_op.drop_column('survey_pending')
    with op.batch_alter_table('survey_text', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_text_survey_id'))
    op.drop_table('survey_text')
    op.drop_table('survey_count')
