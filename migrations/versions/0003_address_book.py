"""address book: contact groups of one's own

contact_group: one owner's named groups; the unique (owner_id, name_key) constraint also
indexes "the groups of one owner sorted by name". contact_member: its primary key
(group_id, account_id) serves the member list of a group and the "already a member?" test
of INSERT ... SELECT; the index on account_id serves the cascade when an account is deleted
and "the groups this person is in" of a whole-book vCard export.

Revision ID: 0003_address_book
Revises: 0002_directory_search
"""
from alembic import op
import sqlalchemy as sa

revision = '0003_address_book'
down_revision = '0002_directory_search'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'contact_group',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('name_key', sa.String(length=480), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['account.id'],
                                name=op.f('fk_contact_group_owner_id_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_group')),
        sa.UniqueConstraint('owner_id', 'name_key', name=op.f('uq_contact_group_owner_id')),
    )
    op.create_table(
        'contact_member',
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                                name=op.f('fk_contact_member_account_id_account'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['group_id'], ['contact_group.id'],
                                name=op.f('fk_contact_member_group_id_contact_group'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('group_id', 'account_id', name=op.f('pk_contact_member')),
    )
    with op.batch_alter_table('contact_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_member_account_id'), ['account_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('contact_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_member_account_id'))
    op.drop_table('contact_member')
    op.drop_table('contact_group')
