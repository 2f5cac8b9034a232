"""Who may write to whom in the demo region, as a table a person can read (SPEC §2, §10).

The fixed accounts of SPEC §10 are the senders; the recipients are those accounts plus people
picked from the demo by what they are (a student of another class, a parent of 4A, a teacher
of another school…)."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from directory.db import db
from directory.enums import GroupKind, Profile, Role
from directory.models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from directory.rights import writable, writable_query
from directory.role_grants import grant_role, remove_role

FIRST_SCHOOL, OTHER_SCHOOL = "0310024H", "0310002C"


def _by_login(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def _in_school(uai: str, profile: Profile, *conditions) -> Account:
    return db.session.scalars(
        select(Account).join(AccountSchool).join(School)
        .where(School.uai == uai, Account.profile == profile, *conditions)
        .order_by(Account.id)).first()


def _groups_of(account: Account):
    return select(GroupMember.group_id).where(GroupMember.account_id == account.id)


def _members_of(group_ids):
    return select(GroupMember.account_id).where(GroupMember.group_id.in_(group_ids))


def _parents_of(member_ids):
    return select(ParentLink.parent_id).where(ParentLink.child_id.in_(member_ids))


@pytest.fixture
def people(ctx) -> dict[str, Account]:
    zoe = _by_login("zoe.le-gall")
    four_a = select(Group.id).where(Group.name == "4A", Group.kind == GroupKind.CLASS,
                                    Group.school_id == zoe.schools[0].id)
    zoe_groups = _groups_of(zoe)
    found = {login.split(".")[0]: _by_login(login) for login in (
        "zoe.le-gall", "lucas.martin", "joseph.fabre", "claire.bernard", "paul.durand", "admin")}
    found.update({
        "student_other_class": _in_school(FIRST_SCHOOL, Profile.STUDENT,
                                          Account.id.not_in(_members_of(zoe_groups))),
        "teacher_other_class": _in_school(FIRST_SCHOOL, Profile.TEACHER,
                                          Account.id.not_in(_members_of(zoe_groups))),
        "parent_4a": _in_school(FIRST_SCHOOL, Profile.PARENT,
                                Account.id.in_(_parents_of(_members_of(four_a))),
                                Account.login != "joseph.fabre"),
        "parent_other_class": _in_school(FIRST_SCHOOL, Profile.PARENT,
                                         Account.id.not_in(_parents_of(_members_of(four_a)))),
        "other": _in_school(FIRST_SCHOOL, Profile.OTHER),
        "student_other_school": _in_school(OTHER_SCHOOL, Profile.STUDENT),
        "teacher_other_school": _in_school(OTHER_SCHOOL, Profile.TEACHER),
        "parent_other_school": _in_school(OTHER_SCHOOL, Profile.PARENT),
    })
    assert all(found.values()), found
    return found


ALLOWED = None
# (sender, recipient, refusal reason or ALLOWED); {name} is the recipient's full name.
TABLE = [
    # Élève: students and teachers of her class and groups, parents of her class.
    ("zoe", "zoe", ALLOWED),
    ("zoe", "lucas", ALLOWED),
    ("zoe", "claire", ALLOWED),
    ("zoe", "joseph", ALLOWED),
    ("zoe", "parent_4a", ALLOWED),
    ("zoe", "student_other_class", "{name} n'est ni dans vos classes ni dans vos groupes"),
    ("zoe", "teacher_other_class",
     "{name} n'enseigne dans aucune de vos classes ni aucun de vos groupes"),
    ("zoe", "parent_other_class", "{name} n'est parent d'aucun élève de votre classe"),
    ("zoe", "paul", "{name} n'est ni élève, ni enseignant, ni parent de vos classes et groupes"),
    ("zoe", "other", "{name} n'est ni élève, ni enseignant, ni parent de vos classes et groupes"),
    ("zoe", "student_other_school", "{name} n'est ni dans vos classes ni dans vos groupes"),
    ("zoe", "teacher_other_school",
     "{name} n'enseigne dans aucune de vos classes ni aucun de vos groupes"),
    # Parent d'élève: his child, the child's class, its teachers and its parents.
    ("joseph", "zoe", ALLOWED),
    ("joseph", "lucas", ALLOWED),
    ("joseph", "claire", ALLOWED),
    ("joseph", "parent_4a", ALLOWED),
    ("joseph", "joseph", ALLOWED),
    ("joseph", "student_other_class", "{name} n'est ni votre enfant ni dans la classe de vos "
                                      "enfants"),
    ("joseph", "teacher_other_class", "{name} n'enseigne pas à vos enfants"),
    ("joseph", "parent_other_class", "{name} n'est parent d'aucun élève des classes de vos "
                                     "enfants"),
    ("joseph", "paul", "{name} ne fait partie ni des classes de vos enfants ni de vos groupes"),
    ("joseph", "teacher_other_school", "{name} n'enseigne pas à vos enfants"),
    ("joseph", "parent_other_school", "{name} n'est parent d'aucun élève des classes de vos "
                                      "enfants"),
    # Autre (send service, no child, no group): only themselves.
    ("other", "other", ALLOWED),
    ("other", "zoe", "{name} n'est ni votre enfant ni dans la classe de vos enfants"),
    ("other", "paul", "{name} ne fait partie ni des classes de vos enfants ni de vos groupes"),
    # Enseignant, Personnel non enseignant, administrator: everyone, every school.
    *[(sender, recipient, ALLOWED)
      for sender in ("claire", "paul", "admin")
      for recipient in ("zoe", "joseph", "student_other_class", "parent_other_class", "other",
                        "student_other_school", "teacher_other_school",
                        "parent_other_school")],
]


@pytest.mark.parametrize(("sender", "recipient", "reason"), TABLE,
                         ids=[f"{s}->{r}" for s, r, _ in TABLE])
def test_who_may_write_to_whom(people, sender, recipient, reason):
    target = people[recipient]
    verdict = writable(people[sender], [target.id])[target.id]
    if reason is ALLOWED:
        assert verdict.allowed and verdict.reason is None
    else:
        assert not verdict.allowed
        assert verdict.reason == reason.format(name=target.full_name)


def test_query_form_agrees_with_the_table(people):
    for sender, recipient, reason in TABLE:
        target = people[recipient]
        found = db.session.scalar(writable_query(people[sender]).where(Account.id == target.id))
        assert (found == target.id) == (reason is ALLOWED), (sender, recipient)


def test_suspended_account_is_never_writable(people):
    people["lucas"].suspended = True
    db.session.commit()
    for sender in ("zoe", "claire", "admin"):
        verdict = writable(people[sender], [people["lucas"].id],
                           replying_to=people["lucas"].id)[people["lucas"].id]
        assert not verdict.allowed
        assert verdict.reason == "Lucas Martin : compte suspendu"
    assert db.session.scalar(writable_query(people["claire"])
                             .where(Account.id == people["lucas"].id)) is None


def test_suspended_sender_may_write_to_nobody(people):
    people["claire"].suspended = True
    db.session.commit()
    verdict = writable(people["claire"], [people["zoe"].id])[people["zoe"].id]
    assert not verdict.allowed
    assert verdict.reason == ("Votre compte est suspendu : vous ne pouvez pas écrire à "
                              "Zoé Le Gall.")


def test_reply_to_the_author_of_a_received_message_is_allowed(people):
    stranger = people["student_other_school"]
    assert not writable(people["zoe"], [stranger.id])[stranger.id].allowed
    assert writable(people["zoe"], [stranger.id], replying_to=stranger.id)[stranger.id].allowed
    assert not writable(people["zoe"], [people["paul"].id],
                        replying_to=stranger.id)[people["paul"].id].allowed


def test_role_changes_take_effect_at_once(people):
    zoe, stranger, lucas = people["zoe"], people["student_other_school"], people["lucas"]
    remove_role(zoe, Role.INTERNAL_MAIL)
    db.session.commit()
    verdict = writable(zoe, [lucas.id])[lucas.id]
    assert verdict.reason == ("Votre compte n'a pas accès au service d'envoi : vous ne pouvez "
                              "pas écrire à Lucas Martin")
    assert writable(zoe, [zoe.id])[zoe.id].allowed
    grant_role(zoe, Role.SEND_EXTENDED)
    db.session.commit()
    assert all(v.allowed for v in writable(zoe, [stranger.id, lucas.id]).values())


def test_unknown_ids_are_absent(people):
    assert writable(people["zoe"], [people["lucas"].id, 987654321, 2**40, -1]).keys() == {
        people["lucas"].id}
    assert writable(people["zoe"], []) == {}


def test_ad_hoc_group_membership_opens_writing_for_a_student(people):
    zoe, stranger = people["zoe"], people["student_other_class"]
    group = Group(kind=GroupKind.AD_HOC, name="Club échecs", search_name="club echecs",
                  school_id=zoe.schools[0].id)
    db.session.add(group)
    db.session.flush()
    db.session.add_all([GroupMember(group_id=group.id, account_id=zoe.id),
                        GroupMember(group_id=group.id, account_id=stranger.id)])
    db.session.commit()
    assert writable(zoe, [stranger.id])[stranger.id].allowed


def test_a_membership_not_yet_flushed_counts_as_for_any_query(people):
    """The rights engine reads on the driver's cursor (the sender's ties, writable's own
    statement): what the session holds unflushed is flushed first, as the ORM's autoflush
    would before a query of its own."""
    zoe, stranger = people["zoe"], people["student_other_class"]
    group = Group(kind=GroupKind.AD_HOC, name="Club de lecture zz", search_name="club de lecture zz",
                  school_id=zoe.schools[0].id)
    db.session.add(group)
    db.session.flush()
    assert not writable(zoe, [stranger.id])[stranger.id].allowed
    db.session.add_all([GroupMember(group_id=group.id, account_id=zoe.id),
                        GroupMember(group_id=group.id, account_id=stranger.id)])
    assert writable(zoe, [stranger.id])[stranger.id].allowed
    claire = people["claire"]      # an extended sender: no ties, writable's own read alone
    assert writable(claire, [stranger.id])[stranger.id].allowed
    stranger.suspended = True
    assert not writable(claire, [stranger.id])[stranger.id].allowed


@pytest.mark.parametrize("sender", ["zoe", "joseph", "claire"])
def test_query_count_does_not_depend_on_the_candidates(people, sender):
    """The sender's ties (at most two small queries), then one SELECT for the candidates."""
    candidates = list(db.session.scalars(select(Account.id).order_by(Account.id).limit(50)))
    statements = []

    def count(*_args):
        statements.append(1)

    connection = db.session.connection()
    event.listen(connection, "before_cursor_execute", count)
    try:
        writable(people[sender], candidates[:5])
        few = len(statements)
        statements.clear()
        writable(people[sender], candidates)
        many = len(statements)
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert few == many <= 3


def test_parent_reaches_the_class_not_every_group_of_the_child(people):
    """Zoé, a student of another class and a teacher of neither join the Latin group: Joseph
    may now write to that teacher (his child's teacher), not to that student; Zoé to both."""
    zoe, joseph = people["zoe"], people["joseph"]
    student, teacher = people["student_other_class"], people["teacher_other_class"]
    assert not writable(joseph, [teacher.id])[teacher.id].allowed
    latin = db.session.scalar(select(Group).where(Group.name == "Latin",
                                                  Group.school_id == zoe.schools[0].id))
    for person in (zoe, student, teacher):
        if db.session.get(GroupMember, (latin.id, person.id)) is None:
            db.session.add(GroupMember(group_id=latin.id, account_id=person.id))
    db.session.commit()
    assert all(v.allowed for v in writable(zoe, [student.id, teacher.id]).values())
    assert writable(joseph, [teacher.id])[teacher.id].allowed
    refused = writable(joseph, [student.id])[student.id]
    assert refused.reason == (f"{student.full_name} n'est ni votre enfant ni dans la classe "
                              "de vos enfants")


def test_senders_of_one_shape_share_a_statement_and_keep_their_own_verdicts(people):
    """Zoé and a pupil of another class have rules of one shape: one `writable` statement
    serves both, each run with its sender's values (a value kept from the first run would
    give the second pupil Zoé's classmates). Run several times: on PostgreSQL the runs after
    the first go on the driver's cursor."""
    from directory.rights import _writable_statement, sender_rule

    zoe, other = people["zoe"], people["student_other_class"]
    assert sender_rule(zoe).shape == sender_rule(other).shape
    assert sender_rule(zoe).parameters != sender_rule(other).parameters
    classmate = people["lucas"]
    other_classmate = db.session.scalar(
        select(Account).join(GroupMember, GroupMember.account_id == Account.id)
        .where(GroupMember.group_id.in_(_groups_of(other)), Account.id != other.id,
               Account.profile == Profile.STUDENT, Account.suspended.is_(False),
               Account.id.not_in(_members_of(_groups_of(zoe)))).limit(1))
    built = _writable_statement.cache_info().currsize
    for _ in range(4):
        assert writable(zoe, [classmate.id])[classmate.id].allowed
        assert not writable(zoe, [other_classmate.id])[other_classmate.id].allowed
        assert writable(other, [other_classmate.id])[other_classmate.id].allowed
        assert not writable(other, [classmate.id])[classmate.id].allowed
    assert _writable_statement.cache_info().currsize <= built + 1


def test_a_statement_holding_one_senders_values_never_lends_them_to_a_shape(people):
    """SQLAlchemy keys its compiled statements by structure, not by values: a statement built
    with Zoé's rule (her values in it) in the shape of `writable`'s shared one must never be
    taken for it, or the shared statement, kept on the driver's cursor, would judge every
    pupil with Zoé's groups. They differ in structure (her lists as one parameter each, under
    names of their own): this fails if they ever come to share a compiled form."""
    from directory.rights import _reach_of, _writable_statement, sender_rule
    from directory.sets import ids_parameter

    zoe, other = people["zoe"], people["student_other_class"]
    classmate = people["lucas"]
    twin = (select(Account.id, Account.first_name, Account.last_name, Account.profile,
                   Account.suspended, _reach_of(sender_rule(zoe), Account).label("reached"))
            .where(ids_parameter(Account.id)))
    _writable_statement.cache_clear()
    for _ in range(3):
        assert db.session.connection().execute(twin, {"ids": [classmate.id]}).one().reached
        assert not writable(other, [classmate.id])[classmate.id].allowed
        assert writable(zoe, [classmate.id])[classmate.id].allowed
