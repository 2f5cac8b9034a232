"""« Écrire à plusieurs » and the automated communications' pages, as a second review found
them: thousands of exclusions saved a message no count and no run could read (it held up
every communication of the region); « Envoyer » with no group nor profile went to the whole
region unseen; a trial « on its way » that could never arrive; the To: of the message showed
the author's filters and how many she left out; a form without « jours » was a 500; merge
fields in the subject went as written; a one-time communication sent could not be put right;
a few French words."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from directory.clock import local_time, travel_to, utcnow
from directory.db import db
from directory.models import Account
from mailgate.automations import scheduler
from mailgate.automations.models import Communication, CommunicationRun
from mailgate.automations.outgoing import mail_of
from mailgate.fanout_models import FanoutJob

from ..conftest import csrf_token, login
from .annuaire_helpers import account, group_id, school_id
from .test_communications import Submitted, Text, communications_of, compose


def _paul(app):
    """Paul, of the school's staff, beside the `teacher` fixture's client."""
    client = app.test_client()
    login(client, "paul.durand")
    return client


def _counted(html: str) -> int:
    return int(re.search(r"(\d+) destinataires?", Text.of(html))[1])


# --- 1. exclusions --------------------------------------------------------------------------

def test_three_hundred_thousand_exclusions_are_refused_and_nothing_is_saved(teacher, app):
    """One bind parameter each: the stored message made every count, and the scheduler's
    run, a statement the driver refused — first of every round, for ever."""
    response = compose(teacher, {"groupes": str(group_id(app, "4A")), "objet": "x",
                                 "texte": "y", "exclus": [str(i) for i in range(1, 300_001)],
                                 "envoyer": "1"})
    assert response.status_code == 400
    assert "au plus 1000 personnes" in Text.of(response.get_data(as_text=True))
    assert communications_of(app, "claire.bernard") == []


def test_exclusions_past_the_cap_or_of_impossible_ids_are_refused_on_every_button(teacher,
                                                                                 app):
    four_a = group_id(app, "4A")
    for excluded in ([str(i) for i in range(1, 1002)], [str(2**63 + 5)], ["0"]):
        for button in ("compter", "brouillon", "envoyer"):
            response = compose(teacher, {"groupes": str(four_a), "objet": "x", "texte": "y",
                                         "exclus": excluded, button: "1"})
            assert response.status_code == 400, (excluded[:1], button)
    assert communications_of(app, "claire.bernard") == []
    kept = compose(teacher, {"groupes": str(four_a), "objet": "x", "texte": "y",
                             "exclus": [str(i) for i in range(1, 1001)], "brouillon": "1"})
    assert kept.status_code == 303


# --- 2. « Envoyer » to a whole space --------------------------------------------------------

def test_envoyer_with_no_group_nor_profile_asks_to_confirm_the_count_first(admin, app):
    response = compose(admin, {"objet": "Réunion des délégués de 4A", "texte": "Bonjour",
                               "envoyer": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert "Vérifiez les destinataires" in Text.of(html)
    assert communications_of(app, "admin") == []
    counted = _counted(html)
    assert f"ce message part à {counted} personnes" in Text.of(html)
    # the form now carries the audience counted: « Envoyer » again sends it
    again = Submitted.of(html)
    assert [len(seen) for seen in again["compte_vu"]] == [64]
    sent = admin.post("/communications/ecrire", data={**again, "envoyer": "1"})
    assert sent.status_code == 303, sent.get_data(as_text=True)
    [saved] = communications_of(app, "admin")
    assert not saved.draft and saved.audience_label == "Tous les membres de la région"


def test_a_count_seen_that_no_longer_holds_is_shown_again(staff, app):
    """A count typed in (or the number the form carried before) is no audience counted."""
    page = compose(staff, {"objet": "Info", "texte": "Bonjour", "compter": "1"})
    counted = _counted(page.get_data(as_text=True))
    for seen in (str(counted + 1), str(counted)):
        response = compose(staff, {"objet": "Info", "texte": "Bonjour", "envoyer": "1",
                                   "compte_vu": seen})
        assert response.status_code == 400
        assert _counted(response.get_data(as_text=True)) == counted
    assert communications_of(app, "paul.durand") == []
    again = Submitted.of(page.get_data(as_text=True))
    response = staff.post("/communications/ecrire", data={**again, "envoyer": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)


def test_a_group_or_a_draft_needs_no_count(teacher, app):
    assert compose(teacher, {"objet": "Brouillon", "texte": "x",
                             "brouillon": "1"}).status_code == 303
    assert compose(teacher, {"groupes": str(group_id(app, "4A")), "objet": "Sortie",
                             "texte": "x", "envoyer": "1"}).status_code == 303


# --- 3. a trial that cannot arrive ----------------------------------------------------------

def _school_communication(staff, app, **changed) -> Communication:
    school = school_id(app, "0310024H")
    new = f"/communications/etablissements/{school}/nouvelle"
    page = staff.get(new).get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "nom": "Annonce", "genre": "announce",
            "regle": "none", "repetition": "daily", "heure": "08:00", "jour_semaine": "0",
            "objet": "Info", "texte": "Bonjour {prénom}, bienvenue à {établissement}.",
            **changed}
    response = staff.post(new, data={k: v for k, v in data.items() if v is not None})
    assert response.status_code == 303, response.get_data(as_text=True)
    return communications_of(app, "paul.durand")[-1]


def test_a_trial_to_staff_without_a_redirect_address_says_it_cannot_arrive(staff, app):
    made = _school_communication(staff, app)
    page = staff.get(f"/communications/automatisees/{made.id}").get_data(as_text=True)
    shown = Text.of(staff.post(f"/communications/automatisees/{made.id}/essai",
                               data={"csrf_token": csrf_token(page)},
                               follow_redirects=True).get_data(as_text=True))
    assert "Un essai part" not in shown
    assert "Vous n'avez pas d'adresse de redirection vérifiée" in shown
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == "paul.durand").values(
            redirect_address="paul.durand@example.org", redirect_verified=True))
        db.session.commit()
    shown = Text.of(staff.post(f"/communications/automatisees/{made.id}/essai",
                               data={"csrf_token": csrf_token(page)},
                               follow_redirects=True).get_data(as_text=True))
    assert "Un essai part vers votre adresse de redirection." in shown


# --- 4. the To: of the message --------------------------------------------------------------

def test_recipients_read_neither_the_filters_nor_the_exclusions_in_the_to_header(teacher,
                                                                                app):
    four_a, joseph = group_id(app, "4A"), account(app, "joseph.fabre")
    response = compose(teacher, {"parents_de": str(four_a), "inactifs": "30",
                                 "jamais_connectes": "y", "exclus": [str(joseph.id)],
                                 "objet": "Réunion", "texte": "Bonjour", "brouillon": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)
    [saved] = communications_of(app, "claire.bernard")
    with app.app_context():
        to = str(mail_of(db.session.get(Communication, saved.id),
                         account(app, "claire.bernard"))["To"])
    assert "Parents des élèves de 4A" in to
    assert "exclu" not in to and "inactifs" not in to and "jamais" not in to
    # the author still reads the whole of it in her list
    listing = Text.of(teacher.get("/communications/").get_data(as_text=True))
    assert "Parents des élèves de 4A · inactifs depuis plus de 30 jours · jamais connectés " \
           "· 1 personne exclue" in listing


def test_a_whole_school_communication_names_the_school_to_its_recipients(staff, app):
    made = _school_communication(staff, app)
    assert made.audience_label == "Tous les membres de Collège Jean Jaurès"
    with app.app_context():
        mail = mail_of(db.session.get(Communication, made.id), account(app, "paul.durand"))
    assert "Tous les membres de Collège Jean Jaurès" in str(mail["To"])


# --- 6. a form without « jours » ------------------------------------------------------------

def test_an_automated_form_posted_without_jours_takes_the_default_days(staff, app):
    made = _school_communication(staff, app, regle="never_logged_in", profils="student",
                                 jours=None)
    assert made.days == "7,15"


# --- 8. merge fields in the subject ---------------------------------------------------------

def test_merge_fields_in_the_subject_are_refused_with_a_clear_error(teacher, app):
    staff = _paul(app)
    response = compose(teacher, {"groupes": str(group_id(app, "4A")),
                                 "objet": "Bonjour {prénom}", "texte": "x", "envoyer": "1"})
    assert response.status_code == 400
    assert "retirez {prénom} de l'objet" in Text.of(response.get_data(as_text=True))
    assert communications_of(app, "claire.bernard") == []
    school = school_id(app, "0310024H")
    new = f"/communications/etablissements/{school}/nouvelle"
    page = staff.get(new).get_data(as_text=True)
    response = staff.post(new, data={
        "csrf_token": csrf_token(page), "nom": "Annonce", "genre": "announce",
        "regle": "none", "repetition": "daily", "heure": "08:00", "jour_semaine": "0",
        "objet": "{Prénom}, votre compte vous attend", "texte": "x"})
    assert response.status_code == 400
    assert "retirez {Prénom} de l'objet" in Text.of(response.get_data(as_text=True))
    assert communications_of(app, "paul.durand") == []


# --- 9. a one-time communication sent, put right --------------------------------------------

def test_a_one_time_communication_sent_is_edited_with_its_date(staff, app):
    tomorrow = local_time(utcnow()).date() + timedelta(days=1)
    made = _school_communication(staff, app, repetition="once", date=tomorrow.isoformat(),
                                 profils="staff")
    after = made.next_run_at + timedelta(hours=1)
    with travel_to(after):
        with app.app_context():
            assert scheduler.run_due(after) == 1
        url = f"/communications/automatisees/{made.id}/modifier"
        form = Submitted.of(staff.get(url).get_data(as_text=True).replace(
            '<form method="post" class="panel">',
            '<form method="post" enctype="multipart/form-data"'))
        assert form["date"] == [tomorrow.isoformat()]
        response = staff.post(url, data={**form, "nom": "Annonce (corrigée)"})
        assert response.status_code == 303, response.get_data(as_text=True)
        with app.app_context():
            assert scheduler.run_due(after + timedelta(minutes=1)) == 0
            assert len(db.session.scalars(select(CommunicationRun).where(
                CommunicationRun.communication_id == made.id)).all()) == 1
        # a new date in the past is still refused
        response = staff.post(url, data={**form, "date": (tomorrow - timedelta(days=3))
                                          .isoformat()})
        assert response.status_code == 400
        assert "Cette date est passée" in Text.of(response.get_data(as_text=True))
    [edited] = communications_of(app, "paul.durand")
    assert edited.name == "Annonce (corrigée)"


# --- 11. words ------------------------------------------------------------------------------

def test_the_words_of_the_lists_and_forms(teacher, app):
    staff = _paul(app)
    assert "Vous n'avez encore envoyé aucun message à plusieurs." in Text.of(
        teacher.get("/communications/").get_data(as_text=True))
    assert "Heure (heure de Paris)" in Text.of(
        teacher.get("/communications/ecrire").get_data(as_text=True))
    zone = app.config["PREAU"].get("TIMEZONE")
    app.config["PREAU"]["TIMEZONE"] = "America/Cayenne"
    try:
        assert "Heure (heure de Cayenne)" in Text.of(
            teacher.get("/communications/ecrire").get_data(as_text=True))
    finally:
        app.config["PREAU"]["TIMEZONE"] = zone
    _school_communication(staff, app, regle="never_logged_in", profils="student",
                          jours="7,15")
    listing = Text.of(staff.get(f"/communications/etablissements/"
                                f"{school_id(app, '0310024H')}").get_data(as_text=True))
    assert "Tous les jours à 08:00 · jamais connectés 7, 15 jours après la création du " \
           "compte ou l'arrivée dans le groupe" in listing
    assert " N jours" not in listing


# --- 5. « Désactiver » during a sending -----------------------------------------------------

def test_deactivating_during_a_sending_stops_it_and_says_so(staff, app):
    made = _school_communication(staff, app, profils="staff")
    with app.app_context():
        db.session.execute(update(Communication).where(Communication.id == made.id)
                           .values(next_run_at=utcnow()))
        db.session.commit()
        assert scheduler.run_due() == 1     # its fan-out written, no batch routed yet
        job = db.session.scalar(select(CommunicationRun.job_id).where(
            CommunicationRun.communication_id == made.id))
        pending = db.session.scalar(select(FanoutJob.total).where(FanoutJob.id == job))
    assert pending > 0
    page = staff.get(f"/communications/automatisees/{made.id}").get_data(as_text=True)
    shown = Text.of(staff.post(f"/communications/automatisees/{made.id}/desactiver",
                               data={"csrf_token": csrf_token(page)},
                               follow_redirects=True).get_data(as_text=True))
    assert f"Son envoi en cours est arrêté : {pending} personne" in shown
    assert "envoi arrêté : la communication a été désactivée" in shown
    assert "en cours" not in shown.split("Historique des envois")[1]
