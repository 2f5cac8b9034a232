"""agenda: agendas, events, reserved resources, answers, comments, feed tokens

agenda_event's ix_agenda_event_agenda_range (agenda_id, starts_at, last_ends_at) serves "what
happens in this agenda between A and B" for single and recurring events alike. On PostgreSQL
agenda_booking carries an exclusion constraint (btree_gist): one resource is never booked
twice over overlapping [starts_at, ends_at) ranges, whatever the number of writers; SQLite
checks the same inside a transaction that holds the write lock (agenda/booking.py).

Revision ID: 0013
Revises: 0006_drop_redundant_index
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0006_drop_redundant_index'
branch_labels = None
depends_on = None

NO_DOUBLE_BOOKING = 'ex_agenda_booking_no_overlap'


def upgrade():
    op.create_table('agenda_resource',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('room', 'equipment', name='resource_kind', native_enum=False, length=12), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_agenda_resource_school_id_school'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_resource')),
    sa.UniqueConstraint('school_id', 'name', name=op.f('uq_agenda_resource_school_id'))
    )
    with op.batch_alter_table('agenda_resource', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_resource_school_id'), ['school_id'], unique=False)

    op.create_table('agenda',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['group.id'], name=op.f('fk_agenda_group_id_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda')),
    sa.UniqueConstraint('group_id', name=op.f('uq_agenda_group_id'))
    )
    op.create_table('agenda_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agenda_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('uid', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('all_day', sa.Boolean(), nullable=False),
    sa.Column('rrule', sa.String(length=500), nullable=True),
    sa.Column('last_ends_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'cancelled', name='event_status', native_enum=False, length=12), nullable=False),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('ask_confirmation', sa.Boolean(), nullable=False),
    sa.Column('follow_up', sa.Enum('off', 'moderated', 'open', name='follow_up', native_enum=False, length=12), nullable=False),
    sa.Column('read_receipt', sa.Boolean(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agenda_id'], ['agenda.id'], name=op.f('fk_agenda_event_agenda_id_agenda'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_agenda_event_author_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_event')),
    sa.UniqueConstraint('uid', name=op.f('uq_agenda_event_uid'))
    )
    with op.batch_alter_table('agenda_event', schema=None) as batch_op:
        batch_op.create_index('ix_agenda_event_agenda_range', ['agenda_id', 'starts_at', 'last_ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_agenda_event_author_id'), ['author_id'], unique=False)

    op.create_table('agenda_feed_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('agenda_id', sa.Integer(), nullable=True),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_agenda_feed_token_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agenda_id'], ['agenda.id'], name=op.f('fk_agenda_feed_token_agenda_id_agenda'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_feed_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_agenda_feed_token_token_sha256'))
    )
    with op.batch_alter_table('agenda_feed_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_feed_token_account_id'), ['account_id'], unique=False)

    op.create_table('agenda_answer',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Enum('accepted', 'refused', name='answer_kind', native_enum=False, length=12), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('channel', sa.Enum('page', 'link', 'mail', 'organiser', name='answer_channel', native_enum=False, length=12), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_agenda_answer_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['agenda_event.id'], name=op.f('fk_agenda_answer_event_id_agenda_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['account.id'], name=op.f('fk_agenda_answer_recorded_by_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('event_id', 'account_id', name=op.f('pk_agenda_answer'))
    )
    with op.batch_alter_table('agenda_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_answer_account_id'), ['account_id'], unique=False)

    op.create_table('agenda_booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['agenda_event.id'], name=op.f('fk_agenda_booking_event_id_agenda_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['agenda_resource.id'], name=op.f('fk_agenda_booking_resource_id_agenda_resource'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_booking'))
    )
    with op.batch_alter_table('agenda_booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_booking_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_agenda_booking_resource_range', ['resource_id', 'starts_at'], unique=False)

    op.create_table('agenda_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'published', 'rejected', name='comment_state', native_enum=False, length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_agenda_comment_author_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['agenda_event.id'], name=op.f('fk_agenda_comment_event_id_agenda_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_comment'))
    )
    with op.batch_alter_table('agenda_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_comment_event_id'), ['event_id'], unique=False)

    op.create_table('agenda_event_exception',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['agenda_event.id'], name=op.f('fk_agenda_event_exception_event_id_agenda_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'starts_at', name=op.f('pk_agenda_event_exception'))
    )
    op.create_table('agenda_event_resource',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['agenda_event.id'], name=op.f('fk_agenda_event_resource_event_id_agenda_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['agenda_resource.id'], name=op.f('fk_agenda_event_resource_resource_id_agenda_resource'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'resource_id', name=op.f('pk_agenda_event_resource'))
    )
    with op.batch_alter_table('agenda_event_resource', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agenda_event_resource_resource_id'), ['resource_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
        op.execute(f'ALTER TABLE agenda_booking ADD CONSTRAINT {NO_DOUBLE_BOOKING} '
                   "EXCLUDE USING gist (resource_id WITH =, tsrange(starts_at, ends_at, '[)') WITH &&)")


def downgrade():
    with op.batch_alter_table('agenda_event_resource', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_event_resource_resource_id'))

    op.drop_table('agenda_event_resource')
    op.drop_table('agenda_event_exception')
    with op.batch_alter_table('agenda_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_comment_event_id'))

    op.drop_table('agenda_comment')
    with op.batch_alter_table('agenda_booking', schema=None) as batch_op:
        batch_op.drop_index('ix_agenda_booking_resource_range')
        batch_op.drop_index(batch_op.f('ix_agenda_booking_event_id'))

    op.drop_table('agenda_booking')
    with op.batch_alter_table('agenda_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_answer_account_id'))

    op.drop_table('agenda_answer')
    with op.batch_alter_table('agenda_feed_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_feed_token_account_id'))

    op.drop_table('agenda_feed_token')
    with op.batch_alter_table('agenda_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_event_author_id'))
        batch_op.drop_index('ix_agenda_event_agenda_range')

    op.drop_table('agenda_event')
    op.drop_table('agenda')
    with op.batch_alter_table('agenda_resource', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agenda_resource_school_id'))

    op.drop_table('agenda_resource')
