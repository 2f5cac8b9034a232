"""A population mailing over its article's life: the mailings of a deleted article or event
never show on the one that takes its number (SQLite gives a deleted row's number again); a
second sending from the same form is a mailing of its own; only those the message reached
are asked to confirm their reading."""
from __future__ import annotations

from html import unescape

from sqlalchemy import select

from agenda.models import Event
from directory.db import db
from directory.enums import Profile
from directory.models import Account
from mailgate import personalise
from mailgate.fanout_models import FanoutJob, FanoutRecipient, RecipientState
from tests.conftest import csrf_token, page_text
from tests.rubric_helpers import account, person

from .annuaire_helpers import html as parsed
from .rubriques_helpers import (
    client_of,
    four_a_rubric,
    html,
    publish,
    route_everything,
    send_form,
)
from .test_agenda_pages import event_id_of, new_event

PARENTS_4A = "Parents d'élèves de 4A"
PUPILS_4A = "Élèves de 4A"
ACK_BUTTON = "J'ai lu cet article"


def _send(claire, article_id: int, populations: list[str], *, form: dict | None = None):
    form = form or send_form(claire, article_id)
    return claire.post(f"/rubriques/articles/{article_id}/envoyer", data={
        "csrf_token": form["csrf_token"], "cle": form["cle"],
        "populations": [form["populations"][p] for p in populations],
        "texte": "Merci de lire l'article.", "confirmation": "y", "envoyer": "1"})


def test_a_deleted_articles_mailings_do_not_show_on_the_article_that_takes_its_number(app):
    claire = client_of(app, "claire.bernard")
    rubric_id = four_a_rubric(app)
    first = publish(claire, rubric_id, "Sortie annulée")
    sent = _send(claire, first, [PARENTS_4A, PUPILS_4A])
    assert sent.status_code == 303
    route_everything(app)
    confirm = html(claire.get(f"/rubriques/articles/{first}/supprimer"))
    deleted = claire.post(f"/rubriques/articles/{first}/supprimer",
                          data={"csrf_token": csrf_token(confirm)})
    assert deleted.status_code in (302, 303)
    second = publish(claire, rubric_id, "Nouvelle sortie")
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert second == first      # the case this test is about

    own = page_text(claire.get(f"/rubriques/articles/{second}"))
    assert "Nouvelle sortie" in own and "Envois de cet article" not in own
    pupil = page_text(client_of(app, "zoe.le-gall").get(f"/rubriques/articles/{second}"))
    assert "Nouvelle sortie" in pupil and ACK_BUTTON not in unescape(pupil)
    assert claire.get(sent.headers["Location"]).status_code == 404
    with app.app_context():     # detached, not deleted: the copies keep their own links
        job = db.session.get(FanoutJob, int(sent.headers["Location"].rsplit("/", 1)[1]))
        zoe = account("zoe.le-gall")
        assert personalise.values(job.message_id, zoe.id)["lien"].startswith("http")
        assert job.origin == f"deleted:article:{first}"


def test_a_deleted_events_notices_do_not_show_on_the_event_that_takes_its_number(teacher, app):
    first = event_id_of(new_event(teacher, app, title="Sortie au zoo", notify="y",
                                  ask_confirmation="y"))
    route_everything(app)
    with app.app_context():         # as the deletion of its group's agenda does
        db.session.delete(db.session.get(Event, first))
        db.session.commit()
    second = event_id_of(new_event(teacher, app, title="Conseil de classe"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert second == first
    page = page_text(teacher.get(f"/agenda/evenement/{second}"))
    assert "Conseil de classe" in page and "Avis envoyés" not in page
    with app.app_context():
        assert set(db.session.scalars(select(FanoutJob.origin).where(
            FanoutJob.origin.like(f"%event:{first}")))) == {f"deleted:event:{first}"}


def test_a_second_sending_from_the_same_form_is_a_mailing_of_its_own(app):
    """The form's key makes a double click one mailing; the same form sent again to other
    people (after « Précédent ») is another mailing, whose report is its own."""
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Carnaval")
    form = send_form(claire, article_id)
    to_parents = _send(claire, article_id, [PARENTS_4A], form=form)
    twice = _send(claire, article_id, [PARENTS_4A], form=form)
    to_pupils = _send(claire, article_id, [PUPILS_4A], form=form)
    assert to_parents.status_code == twice.status_code == to_pupils.status_code == 303
    assert twice.headers["Location"] == to_parents.headers["Location"]
    assert to_pupils.headers["Location"] != to_parents.headers["Location"]
    report = parsed(claire.get(to_pupils.headers["Location"]))
    assert report.one("dl", class_="summary").all("dd")[0].text == PUPILS_4A
    listed = page_text(claire.get(f"/rubriques/articles/{article_id}"))
    assert f"Envoi · {PARENTS_4A}" in unescape(listed) and f"Envoi · {PUPILS_4A}" in listed


def test_who_the_message_did_not_reach_is_not_asked_to_confirm(app):
    """A parent with no redirect address never got the message: the article does not ask
    them « J'ai lu », and their button would confirm nothing."""
    with app.app_context():
        zoe = account("zoe.le-gall")
        unreachable = person(Profile.PARENT, zoe.schools[0], parent_of=zoe)
        login_name, unreachable_id = unreachable.login, unreachable.id
        db.session.commit()
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Vaccinations")
    sent = _send(claire, article_id, [PARENTS_4A])
    route_everything(app)
    job_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        row = db.session.get(FanoutRecipient, (job_id, unreachable_id))
        assert row.state == RecipientState.REFUSED

    parent = client_of(app, login_name)
    page = html(parent.get(f"/rubriques/articles/{article_id}"))
    assert "Vaccinations" in page and ACK_BUTTON not in unescape(page)
    parent.post(f"/rubriques/articles/{article_id}/lu", data={"csrf_token": csrf_token(page)})
    with app.app_context():
        assert db.session.get(FanoutRecipient, (job_id, unreachable_id)).acknowledged_at is None
    joseph = client_of(app, "joseph.fabre")      # reached: asked
    assert ACK_BUTTON in unescape(html(joseph.get(f"/rubriques/articles/{article_id}")))
    with app.app_context():
        joseph_id = db.session.scalar(select(Account.id).where(Account.login == "joseph.fabre"))
        assert db.session.get(FanoutJob, job_id).acknowledge
        assert db.session.get(FanoutRecipient, (job_id, joseph_id)).state != \
            RecipientState.REFUSED
