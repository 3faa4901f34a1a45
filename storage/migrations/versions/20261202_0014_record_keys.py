"""record keys

member.record_key and update_tally.key_sum: the cell-key method's record keys (random, fixed
when a member joins or an update is sent) and, for the anonymous tallies, the sum of the keys
of the updates each tally counts. Every update is also tallied once under sphere "*", so a
report's total counts updates rather than sphere mentions. Existing members and tallies get
random keys; the "*" tallies of weeks before this migration are the largest sphere count of
their country, week and urgency (a lower bound: the tallies never kept sets of spheres).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 18:30:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_SPACE = 2**31  # as bot.reports.disclosure.KEY_SPACE was when this ran


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_key', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
    with op.batch_alter_table('update_tally', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_sum', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
    conn = op.get_bind()
    for (member_id,) in conn.execute(sa.text('SELECT id FROM member')).all():
        conn.execute(
            sa.text('UPDATE member SET record_key = :key WHERE id = :id'),
            {'key': secrets.randbelow(KEY_SPACE), 'id': member_id},
        )
    rows = conn.execute(
        sa.text(
            "SELECT country, week, urgent, MAX(count) FROM update_tally "
            "GROUP BY country, week, urgent"
        )
    ).all()
    for country, week, urgent, count in rows:
        conn.execute(
            sa.text(
                "INSERT INTO update_tally (country, sphere, week, urgent, count, key_sum) "
                "VALUES (:country, '*', :week, :urgent, :count, 0)"
            ),
            {'country': country, 'week': week, 'urgent': urgent, 'count': count},
        )
    keyed = conn.execute(sa.text('SELECT country, sphere, week, urgent, count FROM update_tally')).all()
    for country, sphere, week, urgent, count in keyed:
        # The sum of `count` random keys is itself a random key.
        conn.execute(
            sa.text(
                'UPDATE update_tally SET key_sum = :key WHERE country = :country AND '
                'sphere = :sphere AND week = :week AND urgent = :urgent'
            ),
            {
                'key': secrets.randbelow(KEY_SPACE) * min(int(count), 1),
                'country': country,
                'sphere': sphere,
                'week': week,
                'urgent': urgent,
            },
        )


def downgrade() -> None:
    op.execute("DELETE FROM update_tally WHERE sphere = '*'")
    with op.batch_alter_table('update_tally', schema=None) as batch_op:
        batch_op.drop_column('key_sum')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('record_key')
