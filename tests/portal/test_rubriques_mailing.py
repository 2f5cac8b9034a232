""""Envoyer un message à une population" through HTTP: preview, then one job even when the
form is sent twice, its report equal to the preview, the confirmations of reading by the
button and by the mail's link, and a reminder to those who did not confirm."""
from __future__ import annotations

import re
from datetime import datetime
from html import unescape

from sqlalchemy import func, select

from directory.db import db
from mailgate import personalise
from mailgate.fanout_models import AckChannel, FanoutJob, FanoutRecipient
from tests.conftest import csrf_token

from .rubriques_helpers import (
    client_of,
    four_a_rubric,
    html,
    publish,
    route_everything,
    send_form,
)

PARENTS_4A = "Parents d'élèves de 4A"


def counts(page: str) -> dict[str, str]:
    return {unescape(k): v for k, v in re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>',
                                                  page)}


def test_preview_then_send_once_and_the_report_says_what_the_preview_said(app, monkeypatch):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Réunion parents-professeurs")
    form = send_form(claire, article_id)
    assert PARENTS_4A in form["populations"], form["populations"]
    data = {"csrf_token": form["csrf_token"], "cle": form["cle"],
            "populations": [form["populations"][PARENTS_4A],
                            form["populations"]["Élèves de 4A"]],
            "texte": "Réunion jeudi à 18 h.", "confirmation": "y"}
    preview = claire.post(f"/rubriques/articles/{article_id}/envoyer",
                          data={**data, "apercu": "1"})
    assert preview.status_code == 200
    seen = counts(html(preview))
    assert int(seen["Total"]) > 2 and int(seen["Le liront dans leur messagerie Préau"]) >= 2
    assert int(seen["Le recevront à leur adresse de redirection"]) >= 1
    first = claire.post(f"/rubriques/articles/{article_id}/envoyer",
                        data={**data, "envoyer": "1"})
    again = claire.post(f"/rubriques/articles/{article_id}/envoyer",
                        data={**data, "envoyer": "1"})
    assert first.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FanoutJob).where(
            FanoutJob.origin == f"article:{article_id}")) == 1
    job_url = first.headers["Location"]
    running = html(claire.get(job_url))
    assert 'id="fanout-progress"' in running and "Envoi terminé" not in running
    route_everything(app)
    state = claire.get(job_url + "/etat").get_json()
    assert state["finished"] and state["percent"] == 100
    report = html(claire.get(job_url))
    assert "Envoi terminé" in report
    done = counts(report)
    assert done["Remis dans leur messagerie Préau"] == seen["Le liront dans leur messagerie Préau"]
    assert done["Transférés à leur adresse de redirection"] == \
        seen["Le recevront à leur adresse de redirection"]
    assert done["Injoignables (pas d'adresse de redirection)"] == \
        seen["Injoignables (pas d'adresse de redirection)"]
    assert done["Refusés"] == seen["Refusés"]
    table = claire.get(job_url + "/rapport.csv")
    rows = table.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert rows[0].startswith("Nom;Prénom;Profil;Résultat") and len(rows) == int(seen["Total"]) + 1
    # written while read, a chunk at a time: three recipients a statement, none lost
    from portal import fanout_pages

    monkeypatch.setattr(fanout_pages, "CSV_CHUNK", 3)
    chunked = claire.get(job_url + "/rapport.csv")
    assert chunked.is_streamed and chunked.get_data(as_text=True).lstrip("\ufeff").splitlines() \
        == rows


def _sent(app, claire, article_id: int, *, acknowledge: bool = True) -> str:
    form = send_form(claire, article_id)
    data = {"csrf_token": form["csrf_token"], "cle": form["cle"],
            "populations": [form["populations"][PARENTS_4A],
                            form["populations"]["Élèves de 4A"]],
            "texte": "Merci de lire l'article.", "envoyer": "1"}
    if acknowledge:
        data["confirmation"] = "y"
    response = claire.post(f"/rubriques/articles/{article_id}/envoyer", data=data)
    assert response.status_code == 303, html(response)
    route_everything(app)
    return response.headers["Location"]


def _job_id(url: str) -> int:
    return int(url.rstrip("/").split("/")[-1])


def test_read_acknowledgement_by_the_button_and_by_the_link(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Autorisation de sortie")
    job_url = _sent(app, claire, article_id)
    job_id = _job_id(job_url)

    zoe = client_of(app, "zoe.le-gall")
    page = html(zoe.get(f"/rubriques/articles/{article_id}"))
    assert "J'ai lu cet article" in unescape(page)
    zoe.post(f"/rubriques/articles/{article_id}/lu", data={"csrf_token": csrf_token(page)})
    after = html(zoe.get(f"/rubriques/articles/{article_id}"))
    assert "Autorisation de sortie" in after and "ai lu cet article" not in after

    with app.app_context():
        from directory.models import Account

        joseph = db.session.scalar(select(Account.id).where(Account.login == "joseph.fabre"))
        message_id = db.session.get(FanoutJob, job_id).message_id
        link = personalise.values(message_id, joseph)["lien"]
    anonymous = app.test_client()
    path = link.split("localhost", 1)[1]
    question = anonymous.get(path)
    assert question.status_code == 200 and "Autorisation de sortie" in html(question)
    with app.app_context():
        assert db.session.get(FanoutRecipient, (job_id, joseph)).acknowledged_at is None
    anonymous.post(path, data={"csrf_token": csrf_token(html(question))})
    assert anonymous.get(path[:-3] + "abc").status_code == 404
    with app.app_context():
        row = db.session.get(FanoutRecipient, (job_id, joseph))
        assert row.acknowledged_by == AckChannel.LINK
    report = html(claire.get(job_url))
    assert "2 personnes ont confirmé leur lecture" in report
    assert "Joseph" in report and "le lien du message" in report and "le bouton de l" in report


def test_a_reminder_goes_to_those_who_did_not_confirm(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Photo de classe")
    job_url = _sent(app, claire, article_id)
    zoe = client_of(app, "zoe.le-gall")
    page = html(zoe.get(f"/rubriques/articles/{article_id}"))
    zoe.post(f"/rubriques/articles/{article_id}/lu", data={"csrf_token": csrf_token(page)})
    report = html(claire.get(job_url))
    key = re.search(r'id="cle" name="cle" type="hidden" value="([^"]+)"', report)[1]
    response = claire.post(job_url + "/rappel", data={"csrf_token": csrf_token(report),
                                                      "cle": key})
    assert response.status_code == 303
    with app.app_context():
        original = db.session.get(FanoutJob, _job_id(job_url))
        reminder = db.session.get(FanoutJob, _job_id(response.headers["Location"]))
        assert reminder.reminder_of == original.id
        assert reminder.total == original.total - 1 - sum(
            1 for r in db.session.scalars(select(FanoutRecipient.state).where(
                FanoutRecipient.job_id == original.id)) if r == "refused")
    route_everything(app)
    reminder_page = html(claire.get(response.headers["Location"]))
    assert "Le Gall" in reminder_page.split('class="confirmed"')[1].split("</table>")[0]


def test_a_mailing_of_a_draft_is_refused_and_others_jobs_are_not_found(app):
    claire = client_of(app, "claire.bernard")
    rubric_id = four_a_rubric(app)
    draft = publish(claire, rubric_id, "Pas encore", publication="brouillon")
    response = claire.get(f"/rubriques/articles/{draft}/envoyer", follow_redirects=True)
    assert "Publiez l'article avant" in unescape(html(response))
    article_id = publish(claire, rubric_id, "Kermesse")
    job_url = _sent(app, claire, article_id, acknowledge=False)
    assert client_of(app, "zoe.le-gall").get(job_url).status_code == 404
    assert client_of(app, "joseph.fabre").get(job_url + "/rapport.csv").status_code == 404
    assert claire.get("/rubriques/envois/999999").status_code == 404


def test_sending_to_no_population_is_refused_and_creates_nothing(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Sans destinataire")
    form = send_form(claire, article_id)
    response = claire.post(f"/rubriques/articles/{article_id}/envoyer", data={
        "csrf_token": form["csrf_token"], "cle": form["cle"], "texte": "Bonjour",
        "envoyer": "1"})
    assert response.status_code == 400
    assert "Choisissez au moins une population." in html(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FanoutJob).where(
            FanoutJob.origin == f"article:{article_id}")) == 0


def test_the_reports_csv_gives_the_confirmation_times_in_paris_time(app):
    """Stored in UTC, shown on the page in Paris time: the CSV says what the page says, one
    hour ahead in winter and two in summer."""
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Horaires d'hiver et d'été")
    job_url = _sent(app, claire, article_id)
    confirmed = {"joseph.fabre": datetime(2026, 1, 15, 7, 30),
                 "zoe.le-gall": datetime(2026, 7, 15, 7, 30)}
    with app.app_context():
        from directory.models import Account

        for login_name, when in confirmed.items():
            person = db.session.scalar(select(Account.id).where(Account.login == login_name))
            row = db.session.get(FanoutRecipient, (_job_id(job_url), person))
            row.acknowledged_at, row.acknowledged_by = when, AckChannel.LINK
        db.session.commit()
    table = claire.get(job_url + "/rapport.csv").get_data(as_text=True)
    rows = {tuple(line.split(";")[:2]): line.split(";")[-1]
            for line in table.lstrip("\ufeff").splitlines()}
    assert rows[("Fabre", "Joseph")] == "15/01/2026 08:30"
    assert rows[("Le Gall", "Zoé")] == "15/07/2026 09:30"
