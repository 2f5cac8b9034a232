"""what the gateway found of the sender of mail from outside

mail_message.sender_check: pass (SPF or an aligned DKIM signature vouched for the envelope
sender's domain), trusted (from PREAU_TRUSTED_NETWORKS) or unverified (delivered under
PREAU_SENDER_AUTH=mark: the reading page says "Expéditeur non vérifié"); NULL for mail
that was not checked, which is all mail stored before this revision.

Revision ID: 0008
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0012'
branch_labels = None
depends_on = None

SENDER_CHECKS = ('pass', 'trusted', 'unverified')


def upgrade():
    with op.batch_alter_table('mail_message') as batch:
        batch.add_column(sa.Column('sender_check', sa.Enum(
            *SENDER_CHECKS, name='sender_check', native_enum=False, length=10), nullable=True))


def downgrade():
    with op.batch_alter_table('mail_message') as batch:
        batch.drop_column('sender_check')
