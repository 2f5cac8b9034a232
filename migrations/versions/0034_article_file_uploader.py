"""article_file: the images and files of articles outlive their uploader's account

article_file.uploader_id was NOT NULL with ON DELETE CASCADE: deleting an account (a teacher
who left) deleted every image and file they had put into articles, while the articles stayed
(article.author_id is SET NULL), and readers met broken images and dead links in published
articles. The column is now nullable with ON DELETE SET NULL, as article.author_id: the files
stay with their articles. A file still pending (in no saved article) when its uploader goes
can never be claimed: `preau purge-uploads` deletes it (portal/rubriques/articles.py).

The foreign key keeps its name (directory.db NAMING, given in 0012), so it is dropped and made
again by name on both databases. article_file carries no trigger (0028 put them on article
and agenda_event only), so the batch rebuild SQLite needs to change a foreign key loses
nothing; on PostgreSQL the batch is plain ALTER TABLE statements. resolve_fks=False, as in
0032: the rebuild need not reflect the tables article_file points to.

The downgrade deletes the files whose uploader is gone (uploader_id NULL), images and files
of articles included (a NOT NULL column cannot hold them), then restores NOT NULL and
ON DELETE CASCADE.

Revision ID: 0034
Revises: 0033
"""
import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

FOREIGN_KEY = 'fk_article_file_uploader_id_account'


def _uploader(*, nullable: bool, ondelete: str) -> None:
    with op.batch_alter_table('article_file', reflect_kwargs={'resolve_fks': False}) as batch:
        batch.drop_constraint(FOREIGN_KEY, type_='foreignkey')
        batch.alter_column('uploader_id', existing_type=sa.Integer(), nullable=nullable)
        batch.create_foreign_key(FOREIGN_KEY, 'account', ['uploader_id'], ['id'],
                                 ondelete=ondelete)


def upgrade():
    _uploader(nullable=True, ondelete='SET NULL')


def downgrade():
    op.execute('DELETE FROM article_file WHERE uploader_id IS NULL')
    _uploader(nullable=False, ondelete='CASCADE')
