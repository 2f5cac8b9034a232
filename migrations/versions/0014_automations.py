"""automated communications and "Écrire à plusieurs"

communication: a message to many (kind "message", an author's) or a school's / group's
automated communication; ix_communication_due is partial (planned ones only) for the
worker's "what is due?" at every round. communication_run: one row per occurrence sent,
unique (communication, occurrence, trial) so two workers never send one twice.
communication_file: attachments; signature: the authors' signatures.
account.access_ends_at and group_member.access_ends_at: when access ends (the "access ends
in N days" rule); group_member.joined_at: "never logged in N days after joining".
ix_account_never_logged_in (created_at WHERE last_access_at IS NULL) serves "never logged in
N days after creation" over the whole region.

Revision ID: 0014
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_signature_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_account_id'), ['account_id'], unique=False)

    op.create_table('communication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('message', 'announce', 'reminder', 'access_ending', 'inactivity', name='communication_kind', native_enum=False, length=20), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('audience_label', sa.Text(), nullable=False),
    sa.Column('repeat', sa.Enum('once', 'daily', 'weekly', name='communication_repeat', native_enum=False, length=20), nullable=False),
    sa.Column('send_at', sa.DateTime(), nullable=True),
    sa.Column('at_time', sa.String(length=5), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('trigger', sa.Enum('none', 'never_logged_in', 'inactive', 'access_ends', name='communication_trigger', native_enum=False, length=20), nullable=False),
    sa.Column('days', sa.String(length=40), nullable=False),
    sa.Column('portal_url', sa.String(length=200), nullable=False),
    sa.Column('draft', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=True),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_communication_author_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['group.id'], name=op.f('fk_communication_group_id_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_communication_school_id_school'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communication'))
    )
    with op.batch_alter_table('communication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_communication_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_communication_due', ['next_run_at'], unique=False, postgresql_where=sa.text('next_run_at IS NOT NULL'), sqlite_where=sa.text('next_run_at IS NOT NULL'))
        batch_op.create_index(batch_op.f('ix_communication_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_communication_school_id'), ['school_id'], unique=False)

    op.create_table('communication_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('communication_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['communication_id'], ['communication.id'], name=op.f('fk_communication_file_communication_id_communication'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communication_file'))
    )
    with op.batch_alter_table('communication_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_communication_file_communication_id'), ['communication_id'], unique=False)

    op.create_table('communication_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('communication_id', sa.Integer(), nullable=False),
    sa.Column('occurrence', sa.DateTime(), nullable=False),
    sa.Column('ran_at', sa.DateTime(), nullable=False),
    sa.Column('trial', sa.Boolean(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['communication_id'], ['communication.id'], name=op.f('fk_communication_run_communication_id_communication'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['fanout_job.id'], name=op.f('fk_communication_run_job_id_fanout_job'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communication_run')),
    sa.UniqueConstraint('communication_id', 'occurrence', 'trial', name=op.f('uq_communication_run_communication_id'))
    )
    with op.batch_alter_table('communication_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_communication_run_job_id'), ['job_id'], unique=False)

    # Plain ALTER TABLE … ADD COLUMN (SQLite has it): a batch on `account` reflects the table and
    # warns at every `preau init` about its expression index ix_account_redirect_lower.
    op.add_column('account', sa.Column('access_ends_at', sa.DateTime(), nullable=True))
    op.create_index(op.f('ix_account_access_ends_at'), 'account', ['access_ends_at'],
                    unique=False)
    op.create_index('ix_account_never_logged_in', 'account', ['created_at'], unique=False,
                    postgresql_where=sa.text('last_access_at IS NULL'),
                    sqlite_where=sa.text('last_access_at IS NULL'))

    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joined_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('access_ends_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_group_member_access_ends_at'), ['access_ends_at'], unique=False)



def downgrade():
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_member_access_ends_at'))
        batch_op.drop_column('access_ends_at')
        batch_op.drop_column('joined_at')

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index('ix_account_never_logged_in', postgresql_where=sa.text('last_access_at IS NULL'), sqlite_where=sa.text('last_access_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_account_access_ends_at'))
        batch_op.drop_column('access_ends_at')

    with op.batch_alter_table('communication_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communication_run_job_id'))

    op.drop_table('communication_run')
    with op.batch_alter_table('communication_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communication_file_communication_id'))

    op.drop_table('communication_file')
    with op.batch_alter_table('communication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communication_school_id'))
        batch_op.drop_index(batch_op.f('ix_communication_group_id'))
        batch_op.drop_index('ix_communication_due', postgresql_where=sa.text('next_run_at IS NOT NULL'), sqlite_where=sa.text('next_run_at IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_communication_author_id'))

    op.drop_table('communication')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_account_id'))

    op.drop_table('signature')
