"""What a review of the communications found, through the pages and the scheduler: whoever
edits a communication becomes its author (it went out under the first author's name and
rights); a plain member of an ad hoc group manages none of its communications; « Parents
d'élèves » of a class are the parents of its pupils; a draft sent twice is sent once; a
suspended author's communications stop; a trial after a cascade delete is sent (SQLite gave
the old run's id, and its job, again); « Écrire à plusieurs » counts whom the message goes
to, its author apart."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta
from io import BytesIO

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from directory.audience import Audience
from directory.clock import travel_to
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, AccountSchool, Group, GroupMember, ParentLink
from mailgate.automations import communications, scheduler
from mailgate.automations.communications import Draft
from mailgate.automations.models import Communication, CommunicationFile, CommunicationRun, Kind
from mailgate.fanout_models import FanoutJob
from portal.communications import write_views

from ..conftest import csrf_token, is_postgres, login, page_text
from .annuaire_helpers import account, group_id, school_id

SCHOOL = "0310024H"
SENT_ALREADY = "Ce message n'est plus un brouillon : il est déjà envoyé ou programmé."
STOPPED = "Auteur suspendu : n'est plus envoyée"


def automated_form(**changes) -> dict:
    return {"nom": "Annonce", "genre": "announce", "profils": "student", "regle": "none",
            "repetition": "daily", "heure": "08:00", "jour_semaine": "0",
            "objet": "Info", "texte": "Bonjour {prénom}", **changes}


def post_page(client, url: str, data: dict, **kwargs):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(page), **data}, **kwargs)


def made_by_paul(staff, app) -> int:
    """Paul's announcement to the pupils of his school, every day at 08:00: its id."""
    new = f"/communications/etablissements/{school_id(app, SCHOOL)}/nouvelle"
    response = post_page(staff, new, automated_form())
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.search(r"/automatisees/(\d+)$", response.headers["Location"])[1])


def other_staff(app) -> Account:
    """A member of staff of Paul's school, neither Paul nor an administrator."""
    with app.app_context():
        found = db.session.scalar(
            select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == school_id(app, SCHOOL),
                   Account.profile == Profile.STAFF, Account.is_admin.is_(False),
                   Account.suspended.is_(False), Account.login != "paul.durand")
            .order_by(Account.id))
        db.session.expunge(found)
        return found


def client_of(app, login_name: str):
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    return client


def next_round(app, communication_id: int) -> int:
    """The worker's round at the communication's next occurrence: how many ran."""
    with app.app_context():
        when = db.session.get(Communication, communication_id).next_run_at + timedelta(minutes=1)
        with travel_to(when):
            return scheduler.run_due(when)


def jobs_of(app, communication_id: int) -> list[tuple[int, int, int]]:
    """(author id, total, message id) of each fan-out of the communication, oldest first."""
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(FanoutJob.author_id, FanoutJob.total, FanoutJob.message_id)
            .where(FanoutJob.origin == f"communication:{communication_id}")
            .order_by(FanoutJob.id))]


def author_id_of(app, communication_id: int) -> int | None:
    with app.app_context():
        return db.session.scalar(select(Communication.author_id)
                                 .where(Communication.id == communication_id))


# --- 1. whoever edits becomes the author; who manages a group's communications ---------------

def test_a_communication_edited_by_another_member_of_staff_goes_out_in_her_name(staff, app):
    made = made_by_paul(staff, app)
    editor = other_staff(app)
    colleague = client_of(app, editor.login)
    url = f"/communications/automatisees/{made}/modifier"
    assert "vous en devenez l'auteur" in page_text(colleague.get(url))

    response = post_page(colleague, url, automated_form(texte="Bonjour {prénom}, à lundi."))

    assert response.status_code == 303, response.get_data(as_text=True)
    assert author_id_of(app, made) == editor.id
    shown = page_text(colleague.get(f"/communications/automatisees/{made}"))
    assert f"Auteur {editor.full_name} " in shown
    listing = page_text(colleague.get(
        f"/communications/etablissements/{school_id(app, SCHOOL)}"))
    assert editor.full_name in listing and "Paul Durand" not in listing
    assert next_round(app, made) == 1
    [(author, total, _)] = jobs_of(app, made)
    assert author == editor.id and total > 0


def test_a_plain_teacher_member_of_an_ad_hoc_group_manages_none_of_its_communications(
        teacher, app):
    claire = account(app, "claire.bernard")
    with app.app_context():
        mine, theirs = (db.session.scalar(
            select(Group.id).join(GroupMember, GroupMember.group_id == Group.id)
            .where(Group.kind == GroupKind.AD_HOC, Group.school_id == school_id(app, SCHOOL),
                   GroupMember.is_manager.is_(True),
                   (GroupMember.account_id == claire.id) if own
                   else (GroupMember.account_id != claire.id))
            .order_by(Group.id)) for own in (True, False))
        db.session.add(GroupMember(group_id=theirs, account_id=claire.id, is_manager=False))
        db.session.commit()

    assert teacher.get(f"/communications/groupes/{mine}/nouvelle").status_code == 200
    assert teacher.get(f"/communications/groupes/{group_id(app, '4A')}/nouvelle"
                       ).status_code == 200
    assert teacher.get(f"/communications/groupes/{theirs}/nouvelle").status_code == 404
    assert teacher.get(f"/communications/groupes/{theirs}").status_code == 404
    index = teacher.get("/communications/").get_data(as_text=True)
    assert f"/communications/groupes/{mine}\"" in index
    assert f"/communications/groupes/{theirs}\"" not in index


# --- 2. « Parents d'élèves » of a class ----------------------------------------------------------

def test_a_class_communication_to_its_parents_reaches_the_parents_of_its_pupils(teacher, app):
    four_a = group_id(app, "4A")
    response = post_page(teacher, f"/communications/groupes/{four_a}/nouvelle", automated_form(
        nom="Parents de 4A", groupes=str(four_a), profils="parent"))
    assert response.status_code == 303, response.get_data(as_text=True)
    made = int(re.search(r"/automatisees/(\d+)$", response.headers["Location"])[1])
    with app.app_context():
        parents = db.session.scalar(
            select(func.count(func.distinct(ParentLink.parent_id)))
            .join(GroupMember, GroupMember.account_id == ParentLink.child_id)
            .join(Account, Account.id == ParentLink.parent_id)
            .where(GroupMember.group_id == four_a, Account.profile == Profile.PARENT,
                   Account.suspended.is_(False)))

    assert next_round(app, made) == 1
    [(_, total, _)] = jobs_of(app, made)
    assert total == parents > 0


# --- 3. a draft sent twice -----------------------------------------------------------------------

def draft_with_a_file(teacher, app) -> tuple[int, dict]:
    """Claire's draft to 4A with one attachment: its id and the fields of its form."""
    fields = {"groupes": str(group_id(app, "4A")), "objet": "Programme", "texte": "Ci-joint"}
    response = post_page(teacher, "/communications/ecrire", {
        **fields, "brouillon": "1", "fichiers": [(BytesIO(b"%PDF-1.4 programme"), "p.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    [made] = db_ids(app, "claire.bernard")
    return made, fields


def db_ids(app, login_name: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Communication.id).join(
            Account, Account.id == Communication.author_id).where(Account.login == login_name)))


def files_and_runs(app, message_id: int) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).where(
                    CommunicationFile.communication_id == message_id)),
                db.session.scalar(select(func.count()).where(
                    CommunicationRun.communication_id == message_id)))


def test_a_second_click_on_send_shows_the_message_sent_once(teacher, app):
    made, fields = draft_with_a_file(teacher, app)
    url = f"/communications/ecrire/{made}"
    token = csrf_token(teacher.get(url).get_data(as_text=True))
    data = {"csrf_token": token, **fields, "envoyer": "1"}

    first, second = teacher.post(url, data=data), teacher.post(url, data=data)

    assert first.status_code == second.status_code == 303, second.get_data(as_text=True)
    assert second.headers["Location"] == f"/communications/messages/{made}"
    assert SENT_ALREADY in page_text(teacher.get(second.headers["Location"]))
    assert db_ids(app, "claire.bernard") == [made]
    assert next_round(app, made) == 1
    assert files_and_runs(app, made) == (1, 1)
    assert teacher.get(url).status_code == 404      # no form for a message sent


def test_a_send_that_read_the_draft_before_the_first_one_sent_it_changes_nothing(
        teacher, app, monkeypatch):
    """Two overlapping posts on PostgreSQL: the second request read the message while it
    was still a draft, and the first one has sent it since (its occurrence has even run).
    The second one must attach no file again nor plan a second sending."""
    made, fields = draft_with_a_file(teacher, app)
    url = f"/communications/ecrire/{made}"
    assert post_page(teacher, url, {**fields, "envoyer": "1"}).status_code == 303
    assert next_round(app, made) == 1
    loaded = write_views.own_message

    def as_read_before_the_first_click_committed(communication_id: int) -> Communication:
        message = loaded(communication_id)
        set_committed_value(message, "draft", True)
        return message

    page = teacher.get(f"/communications/messages/{made}").get_data(as_text=True)
    monkeypatch.setattr(write_views, "own_message", as_read_before_the_first_click_committed)
    second = teacher.post(url, content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), **fields, "envoyer": "1",
        "fichiers": [(BytesIO(b"%PDF-1.4 second"), "q.pdf")]})
    monkeypatch.undo()

    assert second.status_code == 303, second.get_data(as_text=True)
    assert SENT_ALREADY in page_text(teacher.get(second.headers["Location"]))
    assert files_and_runs(app, made) == (1, 1)
    with app.app_context():
        assert db.session.get(Communication, made).next_run_at is None


# --- 4. a suspended author --------------------------------------------------------------------

def test_a_suspended_authors_communication_stops_until_someone_takes_it_over(staff, app):
    made = made_by_paul(staff, app)
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == "paul.durand")
                           .values(suspended=True))
        db.session.commit()

    assert next_round(app, made) == 0
    assert jobs_of(app, made) == []
    editor = other_staff(app)
    colleague = client_of(app, editor.login)
    assert STOPPED in page_text(colleague.get(f"/communications/automatisees/{made}"))
    listing = page_text(colleague.get(
        f"/communications/etablissements/{school_id(app, SCHOOL)}"))
    assert f"Paul Durand — {STOPPED}" in listing

    url = f"/communications/automatisees/{made}/modifier"
    assert post_page(colleague, url, automated_form()).status_code == 303
    assert STOPPED not in page_text(colleague.get(f"/communications/automatisees/{made}"))
    assert next_round(app, made) == 1
    assert [author for author, _, _ in jobs_of(app, made)] == [editor.id]


# --- 5. a trial after a cascade delete --------------------------------------------------------

def test_a_trial_after_its_group_was_deleted_and_a_new_one_made_is_sent(ctx):
    """On SQLite a new row may take the id of one deleted last: the new trial's run took the
    deleted one's, and its job's key (« trial-<run id> ») found the old job: nothing sent."""

    def trial() -> tuple[int, int, FanoutJob]:
        """A new group, a communication of it and its trial: (group id, run id, job)."""
        paul = db.session.scalar(select(Account).where(Account.login == "paul.durand"))
        school = paul.schools[0].id
        group = Group(kind=GroupKind.AD_HOC, name=f"Atelier {uuid.uuid4().hex[:8]}",
                      search_name="atelier", school_id=school)
        db.session.add(group)
        db.session.flush()
        made = communications.create(paul, Draft(
            name="Essai", subject="Essai", body="Bonjour", kind=Kind.REMINDER,
            audience=Audience(school_ids=(school,), group_ids=(group.id,)),
            audience_label="Atelier"), school_id=school, group_id=group.id)
        run = scheduler.send_trial(made, paul)
        db.session.commit()
        return group.id, run.id, db.session.get(FanoutJob, run.job_id)

    first_group, first_run, first_job = trial()
    first_job_id, first_message = first_job.id, first_job.message_id
    db.session.execute(delete(Group).where(Group.id == first_group))
    db.session.commit()
    db.session.expunge_all()

    _, second_run, second_job = trial()

    if not is_postgres():
        assert second_run == first_run          # the case: the run's id is given again
    assert second_job.id != first_job_id and second_job.message_id != first_message
    assert second_job.total == 1


# --- 6. the count of « Écrire à plusieurs » --------------------------------------------------

def test_the_count_for_a_class_the_author_belongs_to_is_the_number_sent_to(teacher, app):
    fields = {"groupes": str(group_id(app, "4A")), "objet": "Sortie", "texte": "Lundi"}
    counted = post_page(teacher, "/communications/ecrire", {**fields, "compter": "1"})
    html = counted.get_data(as_text=True)
    number = int(re.search(r"(\d+) destinataires?", page_text(counted))[1])
    offered = re.findall(r'name="exclus" value="(\d+)"', html)
    assert offered and str(account(app, "claire.bernard").id) not in offered

    sent = post_page(teacher, "/communications/ecrire", {**fields, "envoyer": "1"})
    assert sent.status_code == 303, sent.get_data(as_text=True)
    made = int(re.search(r"/messages/(\d+)$", sent.headers["Location"])[1])
    assert next_round(app, made) == 1
    [(_, total, _)] = jobs_of(app, made)
    assert number == total > 0
