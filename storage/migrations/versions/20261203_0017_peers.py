"""peers and introductions

Who does what where (opt-in): peer_profile (whether peers may ask to meet her) and peer_line
(her one line per sphere); introduction (double opt-in: a handle each typed, shared only once
both agreed) and introduction_notice (the messages sent about one, deleted with it). /forget on
either side deletes them all.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('peer_profile',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.create_table('peer_line',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('sphere', sa.String(length=32), nullable=False),
    sa.Column('line', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['peer_profile.member_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'sphere')
    )
    with op.batch_alter_table('peer_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_peer_line_sphere'), ['sphere'], unique=False)

    op.create_table('introduction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sphere', sa.String(length=32), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requester_ok', sa.Boolean(), nullable=False),
    sa.Column('peer_ok', sa.Boolean(), nullable=False),
    sa.Column('suggested', sa.Boolean(), nullable=False),
    sa.Column('requester_handle', sa.String(length=80), nullable=True),
    sa.Column('peer_handle', sa.String(length=80), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['peer_id'], ['member.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requester_id'], ['member.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_introduction_peer_id'), ['peer_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_introduction_requester_id'), ['requester_id'], unique=False
        )

    op.create_table('introduction_notice',
    sa.Column('introduction_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['introduction_id'], ['introduction.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('introduction_id', 'campaign_id')
    )


def downgrade() -> None:
    op.drop_table('introduction_notice')
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_introduction_requester_id'))
        batch_op.drop_index(batch_op.f('ix_introduction_peer_id'))
    op.drop_table('introduction')
    with op.batch_alter_table('peer_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_peer_line_sphere'))
    op.drop_table('peer_line')
    op.drop_table('peer_profile')
