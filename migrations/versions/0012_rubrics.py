"""rubrics, their articles, and background fan-outs

rubric: a school's or a group's blog section; default_of ("school:<id>", "group:<id>") is
unique so that the default rubric of a school or a class is created once even by two
processes at a time. rubric_population: a group or a school crossed with a profile (exactly
one of group_id / school_id: check constraint); rubric_manager: managers named by hand.
article: ix_article_rubric_page (rubric_id, publish_at, id) gives a rubric's page newest
first. article_file: images and files of articles, in the database like mail attachments.
feed_token: one private Atom feed per member and rubric. fanout_job / fanout_recipient: a
background mailing; ix_fanout_recipient_state (job_id, state, account_id) serves the batch
claim and the progress counts from the index; ix_fanout_job_running is partial (running jobs
only) for the worker's "anything to route?" at every round.
The data step gives every existing school its "Vie de l'établissement" and every class its
rubric, with their default populations (what directory/rubrics.py's ensure_default_rubrics
does for schools and classes created later).

Revision ID: 0012
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fanout_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('origin', sa.String(length=80), nullable=False),
    sa.Column('audience', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('acknowledge', sa.Boolean(), nullable=False),
    sa.Column('reminder_of', sa.Integer(), nullable=True),
    sa.Column('link_template', sa.Text(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_fanout_job_author_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['mail_message.id'], name=op.f('fk_fanout_job_message_id_mail_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reminder_of'], ['fanout_job.id'], name=op.f('fk_fanout_job_reminder_of_fanout_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fanout_job')),
    sa.UniqueConstraint('author_id', 'idempotency_key', name=op.f('uq_fanout_job_author_id'))
    )
    with op.batch_alter_table('fanout_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fanout_job_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fanout_job_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fanout_job_origin'), ['origin'], unique=False)
        batch_op.create_index(batch_op.f('ix_fanout_job_reminder_of'), ['reminder_of'], unique=False)
        batch_op.create_index('ix_fanout_job_running', ['id'], unique=False, postgresql_where=sa.text('finished_at IS NULL'), sqlite_where=sa.text('finished_at IS NULL'))

    op.create_table('rubric',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('default_of', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['group.id'], name=op.f('fk_rubric_group_id_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_rubric_school_id_school'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rubric')),
    sa.UniqueConstraint('default_of', name=op.f('uq_rubric_default_of'))
    )
    with op.batch_alter_table('rubric', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rubric_school_id'), ['school_id'], unique=False)

    op.create_table('article',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rubric_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', name='article_status', native_enum=False, length=12), nullable=False),
    sa.Column('publish_at', sa.DateTime(), nullable=False),
    sa.Column('comments', sa.Enum('off', 'moderated', 'open', name='comment_mode', native_enum=False, length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_article_author_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rubric_id'], ['rubric.id'], name=op.f('fk_article_rubric_id_rubric'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article'))
    )
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_article_rubric_page', ['rubric_id', 'publish_at', 'id'], unique=False)

    op.create_table('fanout_recipient',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'delivered', 'forwarded', 'refused', name='fanout_state', native_enum=False, length=12), nullable=False),
    sa.Column('refusal', sa.String(length=20), nullable=True),
    sa.Column('routed_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.Enum('link', 'page', name='ack_channel', native_enum=False, length=12), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_fanout_recipient_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['fanout_job.id'], name=op.f('fk_fanout_recipient_job_id_fanout_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'account_id', name=op.f('pk_fanout_recipient'))
    )
    with op.batch_alter_table('fanout_recipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fanout_recipient_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_fanout_recipient_state', ['job_id', 'state', 'account_id'], unique=False)

    op.create_table('feed_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('rubric_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_feed_token_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rubric_id'], ['rubric.id'], name=op.f('fk_feed_token_rubric_id_rubric'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_token')),
    sa.UniqueConstraint('account_id', 'rubric_id', name=op.f('uq_feed_token_account_id')),
    sa.UniqueConstraint('token', name=op.f('uq_feed_token_token'))
    )
    with op.batch_alter_table('feed_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_token_rubric_id'), ['rubric_id'], unique=False)

    op.create_table('rubric_manager',
    sa.Column('rubric_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_rubric_manager_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rubric_id'], ['rubric.id'], name=op.f('fk_rubric_manager_rubric_id_rubric'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rubric_id', 'account_id', name=op.f('pk_rubric_manager'))
    )
    with op.batch_alter_table('rubric_manager', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_manager_account_id'), ['account_id'], unique=False)

    op.create_table('rubric_population',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rubric_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('profile', sa.Enum('student', 'parent', 'teacher', 'staff', 'other', name='profile', native_enum=False, length=20), nullable=False),
    sa.CheckConstraint('(group_id IS NULL) <> (school_id IS NULL)', name=op.f('ck_rubric_population_one_scope')),
    sa.ForeignKeyConstraint(['group_id'], ['group.id'], name=op.f('fk_rubric_population_group_id_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rubric_id'], ['rubric.id'], name=op.f('fk_rubric_population_rubric_id_rubric'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_rubric_population_school_id_school'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rubric_population')),
    sa.UniqueConstraint('rubric_id', 'group_id', 'school_id', 'profile', name=op.f('uq_rubric_population_rubric_id'))
    )
    with op.batch_alter_table('rubric_population', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_population_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rubric_population_rubric_id'), ['rubric_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rubric_population_school_id'), ['school_id'], unique=False)

    op.create_table('article_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'published', 'rejected', name='comment_state', native_enum=False, length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], name=op.f('fk_article_comment_article_id_article'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_article_comment_author_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_comment'))
    )
    with op.batch_alter_table('article_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_comment_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_article_comment_author_id'), ['author_id'], unique=False)

    op.create_table('article_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('uploader_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], name=op.f('fk_article_file_article_id_article'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploader_id'], ['account.id'], name=op.f('fk_article_file_uploader_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_file'))
    )
    with op.batch_alter_table('article_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_file_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_article_file_uploader_id'), ['uploader_id'], unique=False)

    _default_rubrics()


PROFILES = ('student', 'parent', 'teacher', 'staff', 'other')
GROUP_PROFILES = ('student', 'parent', 'teacher')


def _default_rubrics():
    op.execute("""
        INSERT INTO rubric (school_id, group_id, name, description, default_of, created_at)
        SELECT id, NULL, 'Vie de l''établissement', '', 'school:' || id, CURRENT_TIMESTAMP
        FROM school""")
    op.execute("""
        INSERT INTO rubric (school_id, group_id, name, description, default_of, created_at)
        SELECT school_id, id, name, '', 'group:' || id, CURRENT_TIMESTAMP
        FROM "group" WHERE kind = 'ENTClasse'""")
    for kind, profiles, scope in (('school', PROFILES, 'NULL, r.school_id'),
                                  ('group', GROUP_PROFILES, 'r.group_id, NULL')):
        chosen = " UNION ALL ".join(f"SELECT '{p}' AS profile" for p in profiles)
        op.execute(f"""
            INSERT INTO rubric_population (rubric_id, group_id, school_id, profile)
            SELECT r.id, {scope}, p.profile FROM rubric r CROSS JOIN ({chosen}) p
            WHERE r.default_of LIKE '{kind}:%'""")


def downgrade():
    with op.batch_alter_table('article_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_file_uploader_id'))
        batch_op.drop_index(batch_op.f('ix_article_file_article_id'))

    op.drop_table('article_file')
    with op.batch_alter_table('article_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_comment_author_id'))
        batch_op.drop_index(batch_op.f('ix_article_comment_article_id'))

    op.drop_table('article_comment')
    with op.batch_alter_table('rubric_population', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_population_school_id'))
        batch_op.drop_index(batch_op.f('ix_rubric_population_rubric_id'))
        batch_op.drop_index(batch_op.f('ix_rubric_population_group_id'))

    op.drop_table('rubric_population')
    with op.batch_alter_table('rubric_manager', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_manager_account_id'))

    op.drop_table('rubric_manager')
    with op.batch_alter_table('feed_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_token_rubric_id'))

    op.drop_table('feed_token')
    with op.batch_alter_table('fanout_recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_fanout_recipient_state')
        batch_op.drop_index(batch_op.f('ix_fanout_recipient_account_id'))

    op.drop_table('fanout_recipient')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_index('ix_article_rubric_page')
        batch_op.drop_index(batch_op.f('ix_article_author_id'))

    op.drop_table('article')
    with op.batch_alter_table('rubric', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_school_id'))
        batch_op.drop_index(batch_op.f('ix_rubric_group_id'))

    op.drop_table('rubric')
    with op.batch_alter_table('fanout_job', schema=None) as batch_op:
        batch_op.drop_index('ix_fanout_job_running', postgresql_where=sa.text('finished_at IS NULL'), sqlite_where=sa.text('finished_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_fanout_job_reminder_of'))
        batch_op.drop_index(batch_op.f('ix_fanout_job_origin'))
        batch_op.drop_index(batch_op.f('ix_fanout_job_message_id'))
        batch_op.drop_index(batch_op.f('ix_fanout_job_author_id'))

    op.drop_table('fanout_job')
