"""What makes the demo region look lived in (`preau demo`, after the people are loaded):
a few dozen messages between the fixed accounts and their class — a teacher's homework note
with an attachment, a parent's question and its answer, pupils writing to each other —, the
4A agenda's next events and articles in the school's and the class's rubrics.

Everything goes through the real rules (mailgate.routing.route, agenda.events.save,
rubriques.articles.save), then is dated in the past few days, so that a newcomer who logs in
as Zoé after `make run` finds a working portal and not empty pages. The text is fixed: the
same command gives the same region."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select, update

from agenda.access import ensure_agenda
from agenda.events import EventInput
from agenda.events import save as save_event
from agenda.times import local_date
from directory.clock import utcnow
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember
from directory.rubric_models import Rubric
from mailgate import headers, routing
from mailgate.models import MailboxItem, MailMessage
from mailgate.settings import current as mail_settings

from .rubriques.articles import Draft
from .rubriques.articles import save as save_article
from .rubriques.models import CommentMode

FIXED = ("zoe.le-gall", "lucas.martin", "joseph.fabre", "claire.bernard", "paul.durand",
         "admin")
# A tiny but real PDF, so that the attachment opens.
HOMEWORK_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
                b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
                b"trailer<</Root 1 0 R>>\n%%EOF\n")

# (hours ago, author, recipients, subject, body, read by then); "4A" is the whole class.
CONVERSATIONS = (
    (120, "paul.durand", ["4A"], "Photo de classe mardi",
     "Bonjour à tous,\n\nLa photo de classe aura lieu mardi à 10 h dans la cour. Pensez à "
     "rapporter le coupon signé si vous commandez des photos.\n\nPaul Durand\nVie scolaire",
     True),
    (74, "claire.bernard", ["4A"], "Devoirs pour jeudi",
     "Bonjour,\n\nPour jeudi : lire le chapitre 3 du Horla et faire les exercices de la fiche "
     "jointe (questions 1 à 5).\n\nBon travail,\nClaire Bernard", True),
    (50, "joseph.fabre", ["claire.bernard"], "Question sur la sortie au musée",
     "Bonjour Madame,\n\nZoé m'a parlé de la sortie au musée des Augustins. Faut-il prévoir "
     "un pique-nique, et à quelle heure les élèves seront-ils de retour ?\n\nMerci d'avance,\n"
     "Joseph Fabre", True),
    (46, "claire.bernard", ["joseph.fabre"], "Re: Question sur la sortie au musée",
     "Bonjour Monsieur,\n\nOui, un pique-nique est à prévoir ; le retour au collège est prévu "
     "vers 16 h 30. Le programme complet est dans l'agenda de la classe.\n\nBien cordialement,"
     "\nClaire Bernard", True),
    (30, "lucas.martin", ["zoe.le-gall"], "Exposé d'histoire",
     "Salut Zoé,\n\nOn se partage l'exposé sur les châteaux forts ? Je peux faire la partie "
     "sur la construction si tu prends la vie quotidienne.\n\nLucas", True),
    (29, "zoe.le-gall", ["lucas.martin"], "Re: Exposé d'histoire",
     "D'accord ! Je commence ce soir, on met tout en commun vendredi au CDI ?\n\nZoé", True),
    (20, "claire.bernard", ["zoe.le-gall"], "Ton exposé",
     "Bonjour Zoé,\n\nLucas m'a dit que vous préparez l'exposé ensemble : très bonne idée. "
     "Pensez à citer vos sources.\n\nClaire Bernard", False),
    (6, "lucas.martin", ["zoe.le-gall"], "Cahier de maths",
     "Tu peux m'envoyer une photo de l'exercice 12 ? J'ai oublié mon cahier.", False),
    (2, "paul.durand", ["zoe.le-gall", "lucas.martin"], "Casier à libérer",
     "Bonjour,\n\nMerci de libérer votre casier avant les vacances.\n\nPaul Durand", False),
)
CLASSMATES_SUBJECTS = ("Devoirs de maths", "Sortie au musée", "Cours de demain",
                       "Le livre de français", "Match samedi", "Club théâtre")
CLASSMATES_MESSAGES = 24

EVENTS = (   # (days from today, hour, title, place, summary)
    (2, 10, "Contrôle de français", "Salle B12", "Chapitres 1 à 3 du Horla."),
    (5, 9, "Sortie au musée des Augustins", "Musée des Augustins, Toulouse",
     "Départ du collège à 9 h, retour vers 16 h 30. Prévoir un pique-nique."),
    (9, 17, "Conseil de classe", "Salle des professeurs", "Conseil du premier trimestre."),
)
ARTICLES = (  # (days ago, rubric: "school" or "class", author, title, body)
    (6, "school", "admin", "Bienvenue sur Préau",
     "<p>Votre espace numérique de travail est ouvert : messagerie, annuaire, agendas de "
     "classe et rubriques d'actualités.</p>"),
    (3, "class", "claire.bernard", "Le programme de la sortie au musée",
     "<p>Nous visiterons les collections de sculpture romane, puis un atelier d'écriture "
     "nous attend. Pensez au pique-nique !</p>"),
    (1, "school", "admin", "Menu de la semaine",
     "<p>Lundi : lasagnes. Mardi : poisson pané. Mercredi : repas végétarien. "
     "Jeudi : couscous. Vendredi : tartiflette.</p>"),
)


def bring_to_life() -> str:
    """Add the messages, events and articles; the caller commits. Returns a summary line."""
    people = {a.login: a for a in db.session.scalars(
        select(Account).where(Account.login.in_(FIXED)))}
    four_a = db.session.scalar(
        select(Group).join(GroupMember, GroupMember.group_id == Group.id)
        .where(Group.kind == GroupKind.CLASS,
               GroupMember.account_id == people["zoe.le-gall"].id))
    members = list(db.session.scalars(
        select(GroupMember.account_id).where(GroupMember.group_id == four_a.id)
        .order_by(GroupMember.account_id)))
    now = utcnow()
    sent = 0
    for hours, author, to, subject, body, read in CONVERSATIONS:
        recipients = members if to == ["4A"] else [people[login].id for login in to]
        files = [("fiche-exercices.pdf", HOMEWORK_PDF)] if subject == "Devoirs pour jeudi" else []
        sent += _send(people[author], recipients, subject, body, now - timedelta(hours=hours),
                      read, files)
    classmates = list(db.session.scalars(
        select(Account.id).join(GroupMember, GroupMember.account_id == Account.id)
        .where(GroupMember.group_id == four_a.id, Account.profile == Profile.STUDENT,
               Account.id.not_in([a.id for a in people.values()]))
        .order_by(Account.id)))
    for n in range(CLASSMATES_MESSAGES):
        author = db.session.get(Account, classmates[n % len(classmates)])
        other = classmates[(n * 7 + 3) % len(classmates)]
        if other == author.id:
            other = classmates[(n * 7 + 4) % len(classmates)]
        subject = CLASSMATES_SUBJECTS[n % len(CLASSMATES_SUBJECTS)]
        sent += _send(author, [other], subject, f"Salut,\n\nTu as des nouvelles pour « "
                      f"{subject.lower()} » ?\n\n{author.first_name}",
                      now - timedelta(hours=3 + n * 5), n % 3 != 0, [])
    events = _events(people["claire.bernard"], four_a)
    articles = _articles(people, four_a, now)
    return f"{sent} messages, {events} évènements, {articles} articles"


def _send(author: Account, recipients: list[int], subject: str, body: str, when: datetime,
          read: bool, files: list[tuple[str, bytes]]) -> int:
    domain = mail_settings().domain
    message = EmailMessage()
    recipients = [i for i in recipients if i != author.id]
    named = db.session.execute(select(Account.first_name, Account.last_name, Account.address)
                               .where(Account.id.in_(recipients)).order_by(Account.search_name))
    message["From"] = f"{author.full_name} <{author.address}@{domain}>"
    message["To"] = ", ".join(f"{first} {last} <{address}@{domain}>"
                              for first, last, address in named)
    message["Subject"] = subject
    message["Date"] = format_datetime(when.replace(tzinfo=UTC))
    message["Message-ID"] = headers.new_message_id(domain)
    message.set_content(body)
    for filename, data in files:
        message.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    result = routing.route(author, recipients, message)
    if result.message_id is None:
        return 0
    db.session.execute(update(MailMessage).where(MailMessage.id == result.message_id)
                       .values(sent_at=when, stored_at=when))
    db.session.execute(update(MailboxItem).where(MailboxItem.message_id == result.message_id)
                       .values(received_at=when))
    if read:
        db.session.execute(update(MailboxItem).where(
            MailboxItem.message_id == result.message_id).values(is_read=True))
    return 1


def _events(teacher: Account, four_a: Group) -> int:
    agenda = ensure_agenda(four_a)
    today = local_date(utcnow())
    for days, hour, title, place, summary in EVENTS:
        day = datetime.combine(today + timedelta(days=days), datetime.min.time())
        save_event(teacher, agenda, EventInput(
            title=title, place=place, summary=summary, starts=day.replace(hour=hour),
            ends=day.replace(hour=hour + 1 if days != 5 else 16, minute=30 if days == 5 else 0)))
    return len(EVENTS)


def _articles(people: dict[str, Account], four_a: Group, now: datetime) -> int:
    rubrics = {
        "school": db.session.scalar(select(Rubric).where(
            Rubric.default_of == f"school:{four_a.school_id}")),
        "class": db.session.scalar(select(Rubric).where(
            Rubric.default_of == f"group:{four_a.id}")),
    }
    for days, where, author, title, body in ARTICLES:
        save_article(people[author], rubrics[where], Draft(
            title=title, body=body, publish=True, publish_at=now - timedelta(days=days),
            comments=CommentMode.OPEN))
    return len(ARTICLES)
