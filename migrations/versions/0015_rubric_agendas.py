"""rubric agendas: an agenda belongs to a group or to a rubric; invitations of fan-outs

agenda.rubric_id (unique, like group_id): the agenda of a rubric is read by the rubric's
readers and written by its managers (agenda/access.py). Exactly one of group_id and
rubric_id is set.
fanout_job.forward_invitation: the iCalendar invitation forwarded copies of a background
fan-out carry (the agenda's notices go through the population mailing's worker).

Revision ID: 0015
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agenda') as batch:
        batch.add_column(sa.Column('rubric_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_agenda_rubric_id_rubric'), 'rubric',
                                 ['rubric_id'], ['id'], ondelete='CASCADE')
        batch.create_unique_constraint(batch.f('uq_agenda_rubric_id'), ['rubric_id'])
        batch.create_check_constraint(batch.f('ck_agenda_one_space'),
                                      '(group_id IS NULL) <> (rubric_id IS NULL)')
    with op.batch_alter_table('fanout_job') as batch:
        batch.add_column(sa.Column('forward_invitation', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('fanout_job') as batch:
        batch.drop_column('forward_invitation')
    op.execute('DELETE FROM agenda WHERE rubric_id IS NOT NULL')
    with op.batch_alter_table('agenda') as batch:
        batch.drop_constraint(batch.f('ck_agenda_one_space'), type_='check')
        batch.drop_constraint(batch.f('uq_agenda_rubric_id'), type_='unique')
        batch.drop_constraint(batch.f('fk_agenda_rubric_id_rubric'), type_='foreignkey')
        batch.drop_column('rubric_id')
