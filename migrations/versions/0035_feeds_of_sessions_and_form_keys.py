"""Private feeds end with the account's sessions; one table of form keys for everything a form
makes

agenda_feed_token.session_key, feed_token.session_key: the account's session key when the
feed's token was made. Changing a password, an administrator's reset and « Se déconnecter de
tous les appareils » end every session by drawing a new account.session_key
(directory.accounts.end_sessions), but the agenda's .ics feeds and the rubrics' Atom feeds
kept working: an address made from a stolen session went on serving the member's agendas and
rubrics. A token now answers only while its key is the account's (agenda.feeds
.of_current_sessions). The tokens already made take the account's current key, so that the
addresses in calendars and feed readers keep working until the next end of sessions.

form_submission replaces account_creation (0029): the key of the form that made something,
with the made object's table and id (directory/form_keys.py), so that a new event's
« Valider » or a new article's « Enregistrer » sent twice (a double click) makes one event or
article, as « Créer un compte » already made one account. The keys of accounts created
within the last day are copied over (kind 'account').

Plain ADD/DROP COLUMN and CREATE/DROP TABLE on both databases: neither feed table carries a
trigger, and `article` and `agenda_event` are not touched. The downgrade copies the account
keys back into account_creation and forgets the others (keys live a day).

Revision ID: 0035
Revises: 0034
"""
import sqlalchemy as sa
from alembic import op

revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None

FEED_TABLES = ("agenda_feed_token", "feed_token")


def upgrade():
    for table in FEED_TABLES:
        op.add_column(table, sa.Column('session_key', sa.String(length=32), nullable=True))
        op.execute(f"UPDATE {table} SET session_key = "
                   f"(SELECT account.session_key FROM account "
                   f"WHERE account.id = {table}.account_id)")
    op.create_table(
        'form_submission',
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('form_key', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['account.id'],
                                name=op.f('fk_form_submission_author_id_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('author_id', 'form_key', name=op.f('pk_form_submission')))
    op.execute("INSERT INTO form_submission (author_id, form_key, kind, object_id, created_at) "
               "SELECT author_id, form_key, 'account', account_id, created_at "
               "FROM account_creation")
    op.drop_table('account_creation')


def downgrade():
    op.create_table(
        'account_creation',
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('form_key', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['account.id'],
                                name=op.f('fk_account_creation_author_id_account'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                                name=op.f('fk_account_creation_account_id_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('author_id', 'form_key', name=op.f('pk_account_creation')))
    op.execute("INSERT INTO account_creation (author_id, form_key, account_id, created_at) "
               "SELECT author_id, form_key, object_id, created_at FROM form_submission "
               "WHERE kind = 'account' AND object_id IN (SELECT id FROM account)")
    op.drop_table('form_submission')
    for table in FEED_TABLES:
        op.drop_column(table, 'session_key')
