"""revocable sessions

account.session_key: part of every session cookie of the account (Flask-Login's get_id), drawn
anew at "Se déconnecter de tous les appareils" and at every password change, which ends all
the account's sessions. ended_session: the sessions ended by "Se déconnecter", kept until
their cookie would have expired anyway, so that a copy of the cookie no longer works.
Every session opened before this revision ends (its cookie has no key).

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE … ADD COLUMN (SQLite has it): a batch on `account` reflects the table and
    # warns at every `preau init` about its expression index ix_account_redirect_lower.
    op.add_column('account', sa.Column('session_key', sa.String(length=32), nullable=True))
    op.create_table(
        'ended_session',
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_ended_session')))
    op.create_index(op.f('ix_ended_session_until'), 'ended_session', ['until'])


def downgrade():
    op.drop_index(op.f('ix_ended_session_until'), table_name='ended_session')
    op.drop_table('ended_session')
    with op.batch_alter_table('account') as batch:
        batch.drop_column('session_key')
