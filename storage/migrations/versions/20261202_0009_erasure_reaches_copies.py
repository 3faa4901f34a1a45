"""erasure reaches copies

campaign.source_update_id: the field update an urgent notice quotes; outbox_source: the updates
an outbox row quotes (digests). When an update goes (/forget, retention) its copies go too.
id_counter: the highest member id ever given, so SQLite never gives an erased member's id to
someone new (PostgreSQL's sequences never reuse one). Outbox rows already final lose their
text and buttons, as every row will from now on when it becomes final.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINAL = ('sent', 'failed', 'unreachable', 'skipped', 'cancelled', 'needs_template')


def upgrade() -> None:
    # A plain ADD COLUMN (no foreign key): on SQLite a foreign key would rebuild `campaign`,
    # whose drop would cascade to the outbox. The erasure code clears it with the update.
    op.add_column('campaign', sa.Column('source_update_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_campaign_source_update_id'), 'campaign', ['source_update_id'], unique=False)
    op.create_table('outbox_source',
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['update_id'], ['field_update.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('outbox_id', 'update_id')
    )
    op.create_index(op.f('ix_outbox_source_update_id'), 'outbox_source', ['update_id'], unique=False)
    op.create_table('id_counter',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.execute("INSERT INTO id_counter (name, last) SELECT 'member', COALESCE(MAX(id), 0) FROM member")
    final = ", ".join(f"'{status}'" for status in FINAL)
    op.execute(f"UPDATE outbox SET text = '', buttons = '[]' WHERE status IN ({final})")


def downgrade() -> None:
    op.drop_table('id_counter')
    op.drop_index(op.f('ix_outbox_source_update_id'), table_name='outbox_source')
    op.drop_table('outbox_source')
    op.drop_index(op.f('ix_campaign_source_update_id'), table_name='campaign')
    if op.get_bind().dialect.name == 'sqlite':
        # Natively (SQLite 3.35+): a batch rebuild of `campaign` would cascade to the outbox.
        op.execute('ALTER TABLE campaign DROP COLUMN source_update_id')
    else:
        op.drop_column('campaign', 'source_update_id')
