"""« Envoyer à N personnes » sends to the N people counted: a selection changed after
« Voir le nombre de destinataires » (another population ticked, the confirmation of reading
asked or no longer) is counted again, with a notice, and nothing leaves until the author
sends the new count."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from directory.db import db
from mailgate.fanout_models import FanoutJob

from .carnet_helpers import client_of, form_data, page
from .rubriques_helpers import four_a_rubric, publish, send_form

PARENTS_4A = "Parents d'élèves de 4A"
PUPILS_4A = "Élèves de 4A"
TEXT = "Réunion jeudi à 18 h."
CHANGED = "ont changé depuis le décompte : rien n'est parti"


def jobs_of(app, article_id: int) -> list[FanoutJob]:
    with app.app_context():
        return db.session.scalars(select(FanoutJob).where(
            FanoutJob.origin == f"article:{article_id}")).all()


def sending_form(doc) -> dict:
    """What the browser sends back from the page's mailing form (its text aside)."""
    [form] = [f for f in doc.find_all("form") if f.find_all("input", name="cle")]
    return {**form_data(form), "texte": TEXT}


def send_button(doc) -> int:
    """The number the preview's « Envoyer à N personnes » button says."""
    button = doc.find("button", name="envoyer")
    return int(re.search(r"Envoyer à (\d+) personne", button.text)[1])


def previewed(claire, article_id: int, populations: list[str], **fields):
    """The form as « Voir le nombre de destinataires » shows it back, and its page."""
    form = send_form(claire, article_id)
    response = claire.post(f"/rubriques/articles/{article_id}/envoyer", data={
        "csrf_token": form["csrf_token"], "cle": form["cle"], "texte": TEXT, "apercu": "1",
        "populations": [form["populations"][p] for p in populations], **fields})
    assert response.status_code == 200
    doc = page(response)
    return form, doc


def test_another_population_ticked_after_the_count_is_counted_again_not_sent(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Réunion de rentrée")
    form, doc = previewed(claire, article_id, [PARENTS_4A])
    counted = send_button(doc)
    assert counted > 0 and CHANGED not in doc.text

    # The author ticks the pupils too, then clicks the button that still says `counted`.
    data = {**sending_form(doc), "envoyer": "1",
            "populations": [form["populations"][PARENTS_4A], form["populations"][PUPILS_4A]]}
    assert data["decompte"]
    url = f"/rubriques/articles/{article_id}/envoyer"
    again = claire.post(url, data=data)
    assert again.status_code == 200
    recounted = page(again)
    assert CHANGED in recounted.find("p", class_="selection-changed").text
    assert send_button(recounted) > counted
    assert jobs_of(app, article_id) == []

    # The new count's button sends, to both populations.
    sent = claire.post(url, data={**sending_form(recounted), "envoyer": "1"})
    assert sent.status_code == 303
    [job] = jobs_of(app, article_id)
    assert set(job.audience.split(", ")) == {PARENTS_4A, PUPILS_4A}
    assert job.total == send_button(recounted)


def test_asking_for_a_confirmation_after_the_count_is_counted_again(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Sortie au musée")
    _form, doc = previewed(claire, article_id, [PARENTS_4A])
    data = {**sending_form(doc), "envoyer": "1",
            "confirmation": "y"}
    again = claire.post(f"/rubriques/articles/{article_id}/envoyer", data=data)
    assert again.status_code == 200 and CHANGED in page(again).text
    assert jobs_of(app, article_id) == []


def test_the_counted_selection_sends_at_once_and_a_recount_says_nothing_changed(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Photo de classe")
    form, doc = previewed(claire, article_id, [PARENTS_4A], confirmation="y")
    url = f"/rubriques/articles/{article_id}/envoyer"
    recount = claire.post(url, data={
        **sending_form(doc), "apercu": "1",
        "populations": [form["populations"][PUPILS_4A]]})
    assert recount.status_code == 200 and CHANGED not in page(recount).text
    sent = claire.post(url, data={**sending_form(page(recount)), "envoyer": "1"})
    assert sent.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FanoutJob).where(
            FanoutJob.origin == f"article:{article_id}", FanoutJob.audience == PUPILS_4A,
            FanoutJob.acknowledge.is_(True))) == 1
