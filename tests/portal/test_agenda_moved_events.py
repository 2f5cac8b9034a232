"""Changing a published event through its form: moved, its answers are to be given again (a
family that accepted Tuesday was counted present on Thursday, not reminded, not told); a
published event does not go back to draft; an imported rule of many dates stays editable;
the notices of a repeated event name its rule, not its first date alone."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select

from agenda import access, notices
from agenda.models import Event, EventException, EventStatus
from directory.db import db
from directory.models import Account
from mailgate import fanout
from mailgate.fanout_models import FanoutJob, FanoutRecipient
from tests.conftest import post_form

from .annuaire_helpers import group_id, html, messages
from .rubriques_helpers import client_of, route_everything
from .test_agenda_notices import inbox_notice
from .test_agenda_pages import FORM, event_id_of, new_event

ASKING = {"notify": "y", "ask_confirmation": "y"}


def edit(client, app, event_id: int, **fields):
    """The edit form sent with « Valider », as the organiser fills it in."""
    return post_form(client, f"/agenda/evenement/{event_id}/modifier",
                     {**FORM, "agenda": group_id(app, "4A"), **fields, "publish": "x"})


def zoe_answer(client, event_id: int) -> str:
    """The « Réponse » cell of Zoé's row in the organiser's table."""
    table = html(client.get(f"/agenda/evenement/{event_id}/reponses"))
    assert table.one("caption").text.startswith("Réponses des invités")
    row = next(tr for tr in table.all("tr") if "Le Gall Zoé" in tr.text)
    return row.all("td")[0].text


def reminded(app, client, event_id: int, login: str) -> bool:
    """« Relancer les personnes sans réponse »: does the reminder go to `login`?"""
    answers = html(client.get(f"/agenda/evenement/{event_id}/reponses"))
    key = answers.one("input", name="cle").attrs["value"]
    post_form(client, f"/agenda/evenement/{event_id}/relancer", {"cle": key},
              page=f"/agenda/evenement/{event_id}/reponses")
    with app.app_context():
        job = fanout.jobs_of(f"event:{event_id}")[0]
        assert job.idempotency_key == f"event:{event_id}:reminder:{key}"
        account_id = db.session.scalar(select(Account.id).where(Account.login == login))
        return db.session.get(FanoutRecipient, (job.id, account_id)) is not None


def test_a_moved_event_asks_its_answers_again(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Sortie (déplacée)", **ASKING))
    zoe = client_of(app, "zoe.le-gall")
    post_form(zoe, f"/agenda/evenement/{event_id}/reponse", {"answer": "accepted"},
              page=f"/agenda/evenement/{event_id}")
    assert "Accepte" in zoe_answer(teacher, event_id)

    moved = edit(teacher, app, event_id, title="Sortie (déplacée)", start_date="2026-03-19",
                 end_date="2026-03-19", **ASKING)
    assert moved.status_code == 302, messages(html(moved))

    row = zoe_answer(teacher, event_id)
    assert "Sans réponse" in row and "réponse donnée pour l’ancienne date : Accepte" in row
    counts = html(teacher.get(f"/agenda/evenement/{event_id}/reponses")).all("p")
    assert any(p.text.startswith("0 présent(s), 0 absent(s),") for p in counts)
    exported = teacher.get(f"/agenda/evenement/{event_id}/reponses.csv")
    lines = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff")),
                            delimiter=";"))
    assert ["Le Gall", "Zoé", "Élève", "Sans réponse"] in [line[:4] for line in lines]
    page = html(zoe.get(f"/agenda/evenement/{event_id}"))
    assert "Réponse donnée pour l’ancienne date : présent·e." in \
        page.one("section", class_="answer").text
    assert reminded(app, teacher, event_id, "zoe.le-gall")

    route_everything(app)       # the change's notice tells her
    with app.app_context():
        notice = inbox_notice("zoe.le-gall", "Évènement modifié : Sortie (déplacée)")
        assert notice.subject == ("Évènement modifié : Sortie (déplacée) (le 19/03/2026 à "
                                  "09:00) par Claire Bernard")
        assert notices.ANSWER_AGAIN in " ".join(notice.text_body.split())

    # Her answer for the new date counts again.
    post_form(zoe, f"/agenda/evenement/{event_id}/reponse", {"answer": "accepted"},
              page=f"/agenda/evenement/{event_id}")
    row = zoe_answer(teacher, event_id)
    assert "Accepte" in row and "ancienne date" not in row
    assert not reminded(app, teacher, event_id, "zoe.le-gall")


def test_a_new_title_keeps_the_answers(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Sortie (renommée)", **ASKING))
    zoe = client_of(app, "zoe.le-gall")
    post_form(zoe, f"/agenda/evenement/{event_id}/reponse", {"answer": "refused"},
              page=f"/agenda/evenement/{event_id}")
    renamed = edit(teacher, app, event_id, title="Sortie au musée (renommée)",
                   place="Musée Saint-Raymond", **ASKING)
    assert renamed.status_code == 302, messages(html(renamed))
    with app.app_context():
        assert db.session.get(Event, event_id).title == "Sortie au musée (renommée)"
    row = zoe_answer(teacher, event_id)
    assert "Refuse" in row and "ancienne date" not in row
    assert not reminded(app, teacher, event_id, "zoe.le-gall")
    route_everything(app)
    with app.app_context():
        notice = inbox_notice("zoe.le-gall", "Sortie au musée (renommée)")
        assert notice.subject.startswith("Évènement modifié : Sortie au musée (renommée)")
        assert notices.ANSWER_AGAIN not in " ".join(notice.text_body.split())


def test_a_published_event_is_not_saved_as_a_draft(teacher, app):
    """« Enregistrer en brouillon » published the change and told everyone."""
    def buttons(url: str) -> list[str]:
        form = html(teacher.get(url)).one("form", class_="event-form")
        return [b.attrs["name"] for b in form.all("input", type="submit")]

    draft = event_id_of(new_event(teacher, app, publish=False, title="Projet"))
    assert buttons(f"/agenda/evenement/{draft}/modifier") == ["save_draft", "publish"]

    event_id = event_id_of(new_event(teacher, app, title="Sortie publiée", notify="y"))
    url = f"/agenda/evenement/{event_id}/modifier"
    assert buttons(url) == ["publish"]
    refused = post_form(teacher, url, {**FORM, "agenda": group_id(app, "4A"), "notify": "y",
                                       "title": "Sortie publiée (modifiée)", "save_draft": "x"})
    assert refused.status_code == 400
    assert any("Un évènement publié ne redevient pas un brouillon" in m
               for m in messages(html(refused)))
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert (event.title, event.status, event.sequence) == \
            ("Sortie publiée", EventStatus.PUBLISHED, 0)
        assert db.session.scalar(select(func.count()).select_from(FanoutJob).where(
            FanoutJob.origin == notices.origin(event))) == 1


def test_an_imported_rule_of_many_dates_stays_editable(teacher, app):
    """The import keeps the first 400 dates of a longer rule; the form read it strictly and
    refused every later edit. Its excluded date past the 400th stays excluded."""
    gid = group_id(app, "4A")
    first = datetime(2026, 3, 12, 8, 0)         # 09:00 in Paris
    beyond = datetime(2027, 6, 5, 7, 0)         # the 451st date, 09:00 in summer
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        event = Event(agenda=access.agenda_of_group(claire, gid), author_id=claire.id,
                      uid=f"{uuid.uuid4()}@import.test", title="Permanence",
                      starts_at=first, ends_at=first + timedelta(hours=1),
                      rrule="FREQ=DAILY;COUNT=1000", status=EventStatus.PUBLISHED,
                      last_ends_at=first + timedelta(days=399, hours=1),
                      exceptions=[EventException(starts_at=beyond)])
        db.session.add(event)
        db.session.commit()
        event_id = event.id
    url = f"/agenda/evenement/{event_id}/modifier"
    form = html(teacher.get(url))
    options = form.one("select", name="repeat").all("option")
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == ["other"]
    excluded = form.one("input", name="excluded").attrs["value"]
    assert excluded == "05/06/2027"
    response = edit(teacher, app, event_id, title="Permanence du CDI", start_date="2026-03-12",
                    start_time="09:00", end_date="2026-03-12", end_time="10:00",
                    repeat="other", excluded=excluded)
    assert response.status_code == 302, messages(html(response))
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert (event.title, event.rrule) == ("Permanence du CDI", "FREQ=DAILY;COUNT=1000")
        assert [e.starts_at for e in event.exceptions] == [beyond]
        assert event.dates_changed_at is None
        # its first 400 dates, as the import read them: not its first date alone
        assert datetime(2027, 4, 1) < event.last_ends_at < beyond


def test_a_repeated_events_notice_names_its_rule(teacher, app):
    """« Évènement modifié : Soutien (le 12/03/2026 à 09:00) » told a date of March was
    excluded as if the first lesson had changed."""
    weekly = {"repeat": "weekly", "until": "2026-06-30", "notify": "y"}
    event_id = event_id_of(new_event(teacher, app, title="Soutien", **weekly))
    response = edit(teacher, app, event_id, title="Soutien", excluded="19/03/2026, 26/03/2026",
                    **weekly)
    assert response.status_code == 302, messages(html(response))
    route_everything(app)
    with app.app_context():
        notice = inbox_notice("zoe.le-gall", "Évènement modifié : Soutien")
        assert notice.subject == ("Évènement modifié : Soutien (chaque semaine jusqu'au "
                                  "30/06/2026, à partir du 12/03/2026 à 09:00) par "
                                  "Claire Bernard")
        assert "Sauf les 19/03/2026, 26/03/2026" in notice.text_body
    page = html(teacher.get(f"/agenda/evenement/{event_id}"))
    assert "Chaque semaine jusqu'au 30/06/2026 — sauf le 19/03/2026, 26/03/2026" in \
        page.one("dl", class_="summary").text
