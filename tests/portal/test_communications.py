""""Écrire à plusieurs" and the automated communications' pages: filters, count,
exclusions, merge-field preview, signatures, scheduled sending at 08:00 Paris, drafts,
history; a school's list with active and inactive communications, deactivation,
reactivation, trial; someone else's communication is a 404; bad input changes nothing."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from directory.clock import local_time, utcnow
from directory.db import db
from directory.models import GroupMember, ParentLink
from mailgate.automations.models import Communication, CommunicationRun, Signature

from ..conftest import csrf_token, login
from .annuaire_helpers import account, group_id, school_id


class Text(HTMLParser):
    """The visible text of a page, with the text of the elements of a given id."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return " ".join(" ".join(parser.parts).split())


class Submitted(HTMLParser):
    """What a browser sends for a page's form without a change: its inputs (boxes and radios
    when checked), each select's chosen options (a single select's first one when none is) and
    its text areas; files and buttons left out."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self.select: tuple[str, bool, list[str]] | None = None
        self.textarea: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        name, kind = found.get("name"), found.get("type", "text")
        if tag == "input" and name and kind not in ("file", "submit"):
            if kind not in ("checkbox", "radio") or "checked" in found:
                self.data.setdefault(name, []).append(found.get("value") or "")
        elif tag == "select" and name:
            self.select = (name, "multiple" in found, [])
        elif tag == "option" and self.select:
            self.select[2].append(found.get("value", ""))
            if "selected" in found:
                self.data.setdefault(self.select[0], []).append(found.get("value", ""))
        elif tag == "textarea" and name:
            self.textarea = [name]

    def handle_endtag(self, tag):
        if tag == "select" and self.select:
            name, multiple, options = self.select
            if not multiple and name not in self.data and options:
                self.data[name] = options[:1]
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.data[self.textarea[0]] = ["".join(self.textarea[1:]).removeprefix("\r\n")]
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.textarea.append(data)

    @classmethod
    def of(cls, html: str) -> dict[str, list[str]]:
        parser = cls()
        parser.feed(html.split('<form method="post" enctype="multipart/form-data"')[1]
                    .split("</form>")[0].join(("<form>", "</form>")))
        return parser.data


def compose(client, data: dict, url: str = "/communications/ecrire"):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(page), **data})


def communications_of(app, login: str) -> list[Communication]:
    with app.app_context():
        author = account(app, login)
        found = list(db.session.scalars(select(Communication).where(
            Communication.author_id == author.id).order_by(Communication.id)))
        for c in found:
            db.session.expunge(c)
        return found


def test_only_teachers_and_staff_write_to_many(student, app):
    assert student.get("/communications/ecrire").status_code == 403
    assert "Écrire à plusieurs" not in student.get("/").get_data(as_text=True)


def test_claire_counts_the_parents_of_4a_and_previews_the_merge_fields(teacher, app):
    four_a = group_id(app, "4A")
    response = compose(teacher, {"parents_de": str(four_a), "objet": "Sortie",
                                 "texte": "Bonjour {prénom} ({classe}, {enfant}).",
                                 "compter": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    shown = Text.of(html)
    counted = int(re.search(r"(\d+) destinataires?", shown)[1])
    with app.app_context():
        parents = db.session.scalar(
            select(func.count(func.distinct(ParentLink.parent_id)))
            .join(GroupMember, GroupMember.account_id == ParentLink.child_id)
            .where(GroupMember.group_id == four_a))
    assert counted == parents > 0
    joseph = account(app, "joseph.fabre")
    response = compose(teacher, {"parents_de": str(four_a), "objet": "Sortie",
                                 "texte": "Bonjour {prénom} ({classe}, {enfant}).",
                                 "apercu_pour": str(joseph.id), "compter": "1"})
    preview = re.search(r'id="merge-preview">([^<]*)<', response.get_data(as_text=True))[1]
    assert preview == "Bonjour Joseph (4A, Zoé)."


def test_an_excluded_parent_is_not_counted(teacher, app):
    four_a, joseph = group_id(app, "4A"), account(app, "joseph.fabre")
    counts = []
    for excluded in ([], [str(joseph.id)]):
        html = compose(teacher, {"parents_de": str(four_a), "objet": "Sortie", "texte": "x",
                                 "exclus": excluded, "compter": "1"}).get_data(as_text=True)
        counts.append(int(re.search(r"(\d+) destinataires?", Text.of(html))[1]))
    assert counts[1] == counts[0] - 1


def test_a_message_scheduled_for_tomorrow_8_paris_waits_until_then(teacher, app):
    tomorrow = local_time(utcnow()).date() + timedelta(days=1)
    response = compose(teacher, {"parents_de": str(group_id(app, "4A")), "inactifs": "30",
                                 "objet": "Réunion", "texte": "Bonjour {prénom}.",
                                 "quand": "programme", "date": tomorrow.isoformat(),
                                 "heure": "08:00", "envoyer": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)
    [saved] = communications_of(app, "claire.bernard")
    assert local_time(saved.next_run_at).replace(tzinfo=None) == datetime.combine(
        tomorrow, datetime.min.time()).replace(hour=8)
    assert saved.chosen.inactive_days == 30 and not saved.draft
    listing = Text.of(teacher.get("/communications/").get_data(as_text=True))
    assert f"Programmé pour le {tomorrow:%d/%m/%Y} à 08:00" in listing
    assert "Parents des élèves de 4A · inactifs depuis plus de 30 jours" in listing


def test_a_date_in_the_past_is_refused_in_french_and_nothing_is_saved(teacher, app):
    response = compose(teacher, {"parents_de": str(group_id(app, "4A")), "objet": "Réunion",
                                 "texte": "Bonjour.", "quand": "programme",
                                 "date": date(2020, 1, 1).isoformat(), "heure": "08:00",
                                 "envoyer": "1"})
    assert "Cette date est passée" in response.get_data(as_text=True)
    assert communications_of(app, "claire.bernard") == []


def test_a_draft_is_kept_and_edited(teacher, app):
    response = compose(teacher, {"groupes": str(group_id(app, "4A")), "objet": "Brouillon",
                                 "texte": "À finir", "brouillon": "1"})
    assert response.status_code == 303
    [draft] = communications_of(app, "claire.bernard")
    assert draft.draft and draft.next_run_at is None
    page = teacher.get(f"/communications/ecrire/{draft.id}").get_data(as_text=True)
    assert "À finir" in page
    compose(teacher, {"groupes": str(group_id(app, "4A")), "objet": "Brouillon",
                      "texte": "Fini", "envoyer": "1"},
            url=f"/communications/ecrire/{draft.id}")
    [sent] = communications_of(app, "claire.bernard")
    assert sent.id == draft.id and not sent.draft and sent.body == "Fini"


def test_the_same_form_sent_twice_makes_one_message(teacher, app):
    """A double click on « Envoyer »: the second submission finds the message the first made
    (the form's key) and shows it; a new form makes a new message."""
    page = teacher.get("/communications/ecrire").get_data(as_text=True)
    data = {**{name: values for name, values in Submitted.of(page).items()},
            "groupes": str(group_id(app, "4A")), "objet": "Sortie", "texte": "Lundi",
            "envoyer": "1"}
    assert len(data["cle"][0]) >= 16
    first = teacher.post("/communications/ecrire", data=data)
    second = teacher.post("/communications/ecrire", data=data)
    [sent] = communications_of(app, "claire.bernard")
    assert first.headers["Location"] == second.headers["Location"] == \
        f"/communications/messages/{sent.id}"
    assert "Ce message est déjà enregistré" in Text.of(
        teacher.get(second.headers["Location"]).get_data(as_text=True))
    other = teacher.get("/communications/ecrire").get_data(as_text=True)
    assert Submitted.of(other)["cle"] != data["cle"]


def test_a_reopened_draft_keeps_its_exclusions_when_sent_at_once(teacher, app):
    four_a, joseph = group_id(app, "4A"), account(app, "joseph.fabre")
    compose(teacher, {"parents_de": str(four_a), "objet": "Sortie", "texte": "Bonjour",
                      "exclus": [str(joseph.id)], "brouillon": "1"})
    [draft] = communications_of(app, "claire.bernard")
    assert draft.chosen.excluded_ids == (joseph.id,)
    url = f"/communications/ecrire/{draft.id}"
    reopened = Submitted.of(teacher.get(url).get_data(as_text=True))
    response = teacher.post(url, data={**reopened, "envoyer": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)
    [sent] = communications_of(app, "claire.bernard")
    assert not sent.draft and sent.chosen.excluded_ids == (joseph.id,)


def test_a_scheduled_message_put_back_to_the_drafts_reopens_at_its_paris_time(teacher, app):
    tomorrow = local_time(utcnow()).date() + timedelta(days=1)
    compose(teacher, {"groupes": str(group_id(app, "4A")), "objet": "Réunion",
                      "texte": "Bonjour", "quand": "programme", "date": tomorrow.isoformat(),
                      "heure": "08:00", "envoyer": "1"})
    [scheduled] = communications_of(app, "claire.bernard")
    page = teacher.get(f"/communications/messages/{scheduled.id}").get_data(as_text=True)
    teacher.post(f"/communications/messages/{scheduled.id}/annuler",
                 data={"csrf_token": csrf_token(page)})
    [draft] = communications_of(app, "claire.bernard")
    assert draft.draft and draft.next_run_at is None
    url = f"/communications/ecrire/{draft.id}"
    reopened = Submitted.of(teacher.get(url).get_data(as_text=True))
    assert (reopened["quand"], reopened["date"], reopened["heure"]) == (
        ["programme"], [tomorrow.isoformat()], ["08:00"])
    response = teacher.post(url, data={**reopened, "envoyer": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)
    [sent] = communications_of(app, "claire.bernard")
    assert local_time(sent.next_run_at).replace(tzinfo=None) == datetime.combine(
        tomorrow, datetime.min.time()).replace(hour=8)


@pytest.mark.parametrize("field", ["profils", "roles", "exclus"])
def test_an_unknown_profile_role_or_exclusion_is_refused_and_saves_nothing(teacher, app,
                                                                          field):
    for button in ("compter", "brouillon", "envoyer"):
        response = compose(teacher, {field: "x", "objet": "Sortie", "texte": "Bonjour",
                                     button: "1"})
        assert response.status_code == 400
    assert communications_of(app, "claire.bernard") == []


def test_the_default_signature_ends_the_message(teacher, app):
    page = teacher.get("/communications/signatures").get_data(as_text=True)
    teacher.post("/communications/signatures", data={
        "csrf_token": csrf_token(page), "nom": "Courte", "texte": "Claire B.", "par_defaut": "y"})
    with app.app_context():
        assert db.session.scalar(select(Signature.is_default).where(Signature.name == "Courte"))
    html = teacher.get("/communications/ecrire").get_data(as_text=True)
    assert re.search(r'<option selected value="\d+">Courte</option>', html)
    signature = re.search(r'<option selected value="(\d+)">Courte', html)[1]
    compose(teacher, {"groupes": str(group_id(app, "4A")), "objet": "Signé", "texte": "Mot",
                      "signature": signature, "envoyer": "1"})
    [sent] = communications_of(app, "claire.bernard")
    assert sent.body == "Mot\n\n-- \nClaire B."


def test_staff_manage_the_automated_communications_of_their_school(staff, app):
    school = school_id(app, "0310024H")
    new = f"/communications/etablissements/{school}/nouvelle"
    page = staff.get(new).get_data(as_text=True)
    response = staff.post(new, data={
        "csrf_token": csrf_token(page), "nom": "Jamais venus", "genre": "reminder",
        "profils": "student", "regle": "never_logged_in", "jours": "7,15",
        "repetition": "daily", "heure": "08:00", "jour_semaine": "0",
        "objet": "Votre compte Préau", "texte": "Bonjour {prénom}, connectez-vous."})
    assert response.status_code == 303, response.get_data(as_text=True)
    [made] = communications_of(app, "paul.durand")
    listing = staff.get(f"/communications/etablissements/{school}").get_data(as_text=True)
    assert re.search(r'<tr class="active">\s*<th scope="row"><a [^>]*>Jamais venus', listing)
    assert "Tous les jours à 08:00" in Text.of(listing)

    page = staff.get(f"/communications/automatisees/{made.id}").get_data(as_text=True)
    token = csrf_token(page)
    staff.post(f"/communications/automatisees/{made.id}/desactiver",
               data={"csrf_token": token, "retour": "liste"})
    listing = staff.get(f"/communications/etablissements/{school}").get_data(as_text=True)
    assert re.search(r'<tr class="inactive">\s*<th scope="row"><a [^>]*>Jamais venus', listing)
    assert communications_of(app, "paul.durand")[0].next_run_at is None
    staff.post(f"/communications/automatisees/{made.id}/reactiver", data={"csrf_token": token})
    assert communications_of(app, "paul.durand")[0].next_run_at is not None

    staff.post(f"/communications/automatisees/{made.id}/essai", data={"csrf_token": token})
    with app.app_context():
        assert db.session.scalar(select(CommunicationRun.trial).where(
            CommunicationRun.communication_id == made.id))
    history = Text.of(staff.get(f"/communications/automatisees/{made.id}")
                      .get_data(as_text=True))
    assert "(essai)" in history and "Durand Paul" in history
    # every recipient of an occurrence in a file (the page lists 1,000 at most), and an
    # occurrence asked for by its number, or not found
    with app.app_context():
        run_id = db.session.scalar(select(CommunicationRun.id).where(
            CommunicationRun.communication_id == made.id))
    page = staff.get(f"/communications/automatisees/{made.id}").get_data(as_text=True)
    link = f"/communications/automatisees/{made.id}/envois/{run_id}.csv"
    assert f'href="{link}"' in page
    rows = staff.get(link).get_data(as_text=True).splitlines()
    assert rows[0].lstrip("\ufeff").startswith("Nom;Prénom")
    assert any(r.startswith("Durand;Paul") for r in rows[1:])
    assert staff.get(f"/communications/automatisees/{made.id}?envoi={run_id}").status_code == 200
    assert staff.get(f"/communications/automatisees/{made.id}?envoi=999999").status_code == 404
    assert staff.get(f"/communications/automatisees/{made.id}/envois/999999.csv"
                     ).status_code == 404
    other = app.test_client()
    login(other, "claire.bernard")          # not of this school's staff
    assert other.get(link).status_code in (403, 404)


def test_an_automated_communication_saved_twice_is_made_once(staff, app):
    """A double click on « Enregistrer »: two communications ran for ever, each reminder
    twice."""
    school = school_id(app, "0310024H")
    new = f"/communications/etablissements/{school}/nouvelle"
    page = staff.get(new).get_data(as_text=True)
    key = re.search(r'name="cle"[^>]*value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_token(page), "cle": key, "nom": "Une seule", "genre": "reminder",
            "profils": "student", "regle": "never_logged_in", "jours": "7",
            "repetition": "daily", "heure": "08:00", "jour_semaine": "0",
            "objet": "Votre compte", "texte": "Bonjour."}
    first, second = staff.post(new, data=data), staff.post(new, data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert [c.name for c in communications_of(app, "paul.durand")] == ["Une seule"]


def test_someone_elses_communication_is_not_found(staff, app):
    school = school_id(app, "0310024H")
    new = f"/communications/etablissements/{school}/nouvelle"
    staff.post(new, data={"csrf_token": csrf_token(staff.get(new).get_data(as_text=True)),
                          "nom": "Annonce", "genre": "announce", "regle": "none",
                          "repetition": "daily", "heure": "08:00", "jour_semaine": "0",
                          "objet": "Info", "texte": "Bonjour"})
    [made] = communications_of(app, "paul.durand")
    client = app.test_client()
    login(client, "claire.bernard")
    assert client.get(f"/communications/automatisees/{made.id}").status_code == 404
    assert client.get(f"/communications/etablissements/{school}").status_code == 404
    assert client.get(f"/communications/messages/{made.id}").status_code == 404


def test_a_drafts_attachments_are_listed_removable_and_counted_together(teacher, app,
                                                                       monkeypatch):
    """Each save added its files and checked only the new ones against the limit; the
    draft's page showed none of those it kept, so authors attached them again."""
    from io import BytesIO

    from mailgate.automations import communications as business
    from mailgate.automations.models import CommunicationFile

    monkeypatch.setattr(business, "FILES_MAX_BYTES", 40)
    fields = {"groupes": str(group_id(app, "4A")), "objet": "Programme", "texte": "Ci-joint",
              "brouillon": "1"}

    def save(url: str, *files: bytes, **extra):
        page = teacher.get(url).get_data(as_text=True)
        return teacher.post(url, content_type="multipart/form-data", data={
            "csrf_token": csrf_token(page), **fields, **extra,
            "fichiers": [(BytesIO(data), f"f{n}.pdf") for n, data in enumerate(files)]})

    assert save("/communications/ecrire", b"%PDF-1.4 premier").status_code == 303
    [draft] = communications_of(app, "claire.bernard")
    url = f"/communications/ecrire/{draft.id}"
    page = teacher.get(url).get_data(as_text=True)
    assert "Retirer f0.pdf" in Text.of(page)
    with app.app_context():
        [kept] = db.session.scalars(select(CommunicationFile.id).where(
            CommunicationFile.communication_id == draft.id))
    assert save(url, retirer_fichier="99999999999").status_code == 303     # no such file
    too_big = save(url, b"%PDF-1.4 second, trop pour deux")
    assert too_big.status_code == 400       # 16 kept + 31 added > 40
    replaced = save(url, b"%PDF-1.4 second, trop pour deux", retirer_fichier=str(kept))
    assert replaced.status_code == 303
    with app.app_context():
        assert list(db.session.execute(select(CommunicationFile.data).where(
            CommunicationFile.communication_id == draft.id)).scalars()) == [
            b"%PDF-1.4 second, trop pour deux"]


def test_an_attachment_travels_with_the_message(teacher, app):
    from io import BytesIO

    from mailgate.automations.outgoing import mail_of

    page = teacher.get("/communications/ecrire").get_data(as_text=True)
    response = teacher.post("/communications/ecrire", data={
        "csrf_token": csrf_token(page), "groupes": str(group_id(app, "4A")),
        "objet": "Programme", "texte": "Ci-joint le programme.", "brouillon": "1",
        "fichiers": [(BytesIO(b"%PDF-1.4 programme"), "programme.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    [draft] = communications_of(app, "claire.bernard")
    with app.app_context():
        mail = mail_of(db.session.get(Communication, draft.id), account(app, "claire.bernard"))
        [attached] = list(mail.iter_attachments())
        assert attached.get_filename() == "programme.pdf"
        assert attached.get_content() == b"%PDF-1.4 programme"
    assert "programme.pdf" in teacher.get(
        f"/communications/messages/{draft.id}").get_data(as_text=True)


def test_an_attachment_named_with_a_line_break_is_renamed_and_the_message_can_be_made(
        teacher, app):
    """Its name went as it came into the message's header when due: the email package
    refused it, and the scheduler stopped there at every round."""
    from io import BytesIO

    from mailgate.automations.outgoing import mail_of

    page = teacher.get("/communications/ecrire").get_data(as_text=True)
    fields = {"csrf_token": csrf_token(page), "groupes": str(group_id(app, "4A")),
              "objet": "Programme", "texte": "Ci-joint.", "brouillon": "1"}
    body = b"".join(f'--b0\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f"{value}\r\n".encode() for name, value in fields.items())
    body += (b"--b0\r\nContent-Disposition: form-data; name=\"fichiers\"; "
             b"filename*=UTF-8''pro%0Agramme.pdf\r\nContent-Type: application/pdf\r\n\r\n"
             b"%PDF-1.4 x\r\n--b0--\r\n")
    response = teacher.post("/communications/ecrire", data=BytesIO(body),
                            content_type="multipart/form-data; boundary=b0")
    assert response.status_code == 303, response.get_data(as_text=True)
    [draft] = communications_of(app, "claire.bernard")
    with app.app_context():
        mail = mail_of(db.session.get(Communication, draft.id), account(app, "claire.bernard"))
        [attached] = list(mail.iter_attachments())
        assert attached.get_filename() == "pro_gramme.pdf"


def test_a_teacher_of_a_class_manages_its_automated_communications_and_a_pupil_does_not(
        teacher, app):
    four_a = group_id(app, "4A")
    new = f"/communications/groupes/{four_a}/nouvelle"
    page = teacher.get(new).get_data(as_text=True)
    assert re.findall(r'<option[^>]*>([^<]*)</option>', page.split('id="groupes"')[1].split('</select>')[0]) == ["4A"]
    response = teacher.post(new, data={
        "csrf_token": csrf_token(page), "nom": "Relance 4A", "genre": "inactivity",
        "groupes": str(four_a), "regle": "inactive", "jours": "", "repetition": "weekly",
        "jour_semaine": "0", "heure": "18:00", "objet": "On vous attend",
        "texte": "Bonjour {prénom}"})
    assert response.status_code == 303, response.get_data(as_text=True)
    [made] = communications_of(app, "claire.bernard")
    assert made.group_id == four_a and made.days == "30" and made.weekday == 0
    listing = Text.of(teacher.get(f"/communications/groupes/{four_a}").get_data(as_text=True))
    assert "Chaque lundi à 18:00 · inactifs depuis 30 jours" in listing

    pupil = app.test_client()
    login(pupil, "zoe.le-gall")
    assert pupil.get(f"/communications/groupes/{four_a}").status_code == 404
    assert pupil.get(f"/communications/automatisees/{made.id}").status_code == 404
