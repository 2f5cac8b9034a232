"""accounts administration: school administrators, last access index, CSV imports

account.is_school_admin: administers the accounts of its own schools only (is_admin stays
the region administrator, who administers every school). ix_account_last_access_at serves
the "never logged in" and "inactive for N days" filters. account_import: an uploaded CSV
file kept between its preview and its application, with how far the application went (the
browser applies it batch by batch, each batch one request and one transaction).

Revision ID: 0010
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE … ADD COLUMN (SQLite has it): a batch on `account` reflects the table and
    # warns at every `preau init` about its expression index ix_account_redirect_lower.
    op.add_column('account', sa.Column('is_school_admin', sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.create_index('ix_account_last_access_at', 'account', ['last_access_at'], unique=False)
    op.create_table('account_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('create_classes', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('updated_count', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_account_import_author_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_account_import_school_id_school'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_import'))
    )
    with op.batch_alter_table('account_import') as batch_op:
        batch_op.create_index('ix_account_import_school_id', ['school_id'], unique=False)


def downgrade():
    op.drop_table('account_import')
    with op.batch_alter_table('account') as batch_op:
        batch_op.drop_index('ix_account_last_access_at')
        batch_op.drop_column('is_school_admin')
