"""Rubric pages through HTTP: access by population, what readers and managers may do (and the
404/403 of forged requests), articles with their images, sanitised HTML, comments, private
feeds, the home page."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from directory.db import db
from directory.models import Account, GroupMember
from directory.rubric_models import Rubric
from portal.rubriques.models import Article, ArticleFile
from tests.conftest import csrf_token

from .rubriques_helpers import article, client_of, four_a_rubric, four_b, html, publish

CORPUS = (Path(__file__).parent.parent / "data" / "xss_corpus.html").read_text()
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def rubric_id(app):
    return four_a_rubric(app)


@pytest.fixture
def claire(app):
    return client_of(app, "claire.bernard")


def test_mes_rubriques_lists_the_rubrics_of_her_spaces(app, rubric_id):
    page = html(client_of(app, "zoe.le-gall").get("/rubriques/"))
    assert "Vie de l&#39;établissement" in page
    assert f'href="/rubriques/{rubric_id}"' in page


def test_an_administrators_list_holds_her_spaces_rubrics_and_she_opens_any_other(app):
    """She manages every rubric of the region: her list is her schools' and groups' (the
    agenda's choices are cut the same way, `rubrics.listed`), the others open by address."""
    with app.app_context():
        admin = db.session.scalar(select(Account).where(Account.login == "admin"))
        own = {school.id for school in admin.schools}
        groups = set(db.session.scalars(select(GroupMember.group_id)
                                        .where(GroupMember.account_id == admin.id)))
        rubrics = db.session.execute(select(Rubric.id, Rubric.school_id, Rubric.group_id)).all()
    assert own and {school for _, school, _ in rubrics} - own
    client = client_of(app, "admin")
    page = html(client.get("/rubriques/"))
    listed = {int(n) for n in re.findall(r'href="/rubriques/(\d+)"', page)}
    assert listed and "Vous gérez toutes les rubriques de la région" in page
    assert all(school in own for rubric, school, group in rubrics if rubric in listed)
    others_groups = {rubric for rubric, school, group in rubrics
                     if school in own and group is not None and group not in groups}
    assert others_groups and not others_groups & listed    # her school's classes: not hers
    assert {rubric for rubric, school, group in rubrics
            if school in own and group is None} <= listed
    elsewhere = next(rubric for rubric, school, _ in rubrics if school not in own)
    assert elsewhere not in listed
    assert client.get(f"/rubriques/{elsewhere}").status_code == 200


def test_a_parent_of_4a_reads_the_4a_rubric_a_parent_of_4b_gets_404(app, rubric_id, claire):
    article_id = publish(claire, rubric_id, "Sortie au musée des Augustins")
    joseph = client_of(app, "joseph.fabre")
    page = joseph.get(f"/rubriques/{rubric_id}")
    assert page.status_code == 200 and "Sortie au musée des Augustins" in html(page)
    assert joseph.get(f"/rubriques/articles/{article_id}").status_code == 200
    _, other_parent = four_b(app)
    other = client_of(app, other_parent)
    assert other.get(f"/rubriques/{rubric_id}").status_code == 404
    assert other.get(f"/rubriques/articles/{article_id}").status_code == 404
    assert "Sortie au musée" not in html(other.get("/"))


def test_readers_may_not_manage_and_strangers_see_nothing(app, rubric_id, claire):
    article_id = publish(claire, rubric_id, "Conseil de classe")
    zoe = client_of(app, "zoe.le-gall")
    for url in (f"/rubriques/{rubric_id}/articles/nouveau", f"/rubriques/{rubric_id}/parametres",
                f"/rubriques/articles/{article_id}/modifier",
                f"/rubriques/articles/{article_id}/envoyer",
                f"/rubriques/articles/{article_id}/supprimer"):
        assert zoe.get(url).status_code == 403, url
    token = csrf_token(html(zoe.get(f"/rubriques/{rubric_id}")))
    assert zoe.post(f"/rubriques/articles/{article_id}/supprimer",
                    data={"csrf_token": token}).status_code == 403
    assert zoe.post(f"/rubriques/{rubric_id}/fichiers", data={
        "csrf_token": token, "fichier": (io.BytesIO(PNG), "x.png")}).status_code == 403
    _, other_parent = four_b(app)
    other = client_of(app, other_parent)
    for url in (f"/rubriques/{rubric_id}/parametres", f"/rubriques/articles/{article_id}/modifier",
                f"/rubriques/articles/{article_id}/envoyer", "/rubriques/999999"):
        assert other.get(url).status_code == 404, url
    assert article(app, article_id).title == "Conseil de classe"


def test_drafts_and_articles_to_come_are_for_managers(app, rubric_id, claire):
    draft = publish(claire, rubric_id, "Brouillon secret", publication="brouillon")
    later = publish(claire, rubric_id, "Annonce future", publication="plus-tard",
                    date="2099-01-01T08:00")
    zoe = client_of(app, "zoe.le-gall")
    assert zoe.get(f"/rubriques/articles/{draft}").status_code == 404
    assert zoe.get(f"/rubriques/articles/{later}").status_code == 404
    listing = html(zoe.get(f"/rubriques/{rubric_id}"))
    assert "Articles" in listing and "Brouillon secret" not in listing
    own = html(claire.get(f"/rubriques/{rubric_id}"))
    assert "Brouillon secret" in own and "brouillon" in own and "à paraître" in own


def test_a_published_article_is_on_her_home_page(app, rubric_id, claire):
    publish(claire, rubric_id, "Les résultats du cross")
    home = html(client_of(app, "zoe.le-gall").get("/"))
    assert "Derniers articles" in home and "Les résultats du cross" in home


def test_a_refused_article_shows_back_its_text_sanitised_and_a_far_date_in_words(
        app, rubric_id, claire):
    url = f"/rubriques/{rubric_id}/articles/nouveau"
    token = csrf_token(html(claire.get(url)))
    refused = claire.post(url, data={
        "csrf_token": token, "titre": "", "publication": "maintenant", "commentaires": "off",
        "contenu": '<p>Gardé</p><img src=x onerror="alert(1)"><script>alert(2)</script>'})
    assert refused.status_code == 400
    assert "<p>Gardé</p>" in html(refused)
    assert "onerror" not in html(refused) and "<script>alert" not in html(refused)
    for day in ("0001-01-01T00:00", "9999-12-31T23:59"):
        far = claire.post(url, data={
            "csrf_token": token, "titre": "Loin", "contenu": "<p>x</p>", "commentaires": "off",
            "publication": "plus-tard", "date": day})
        assert far.status_code == 400, day
        assert "Choisissez une date entre 1900 et 2199." in html(far)


def test_html_in_articles_is_sanitised(app, rubric_id, claire):
    article_id = publish(claire, rubric_id, "Corpus", body="<h2>Titre</h2><p><b>gras</b></p>"
                         + CORPUS)
    body = article(app, article_id).body
    assert "<h2>Titre</h2>" in body and "<b>gras</b>" in body
    lowered = body.lower()
    for danger in ("<script", "javascript:", "onerror", "onload", "<iframe", "<svg", "<style",
                   "style=", "<object", "<embed", "<form", "data:"):
        assert danger not in lowered, danger
    page = client_of(app, "zoe.le-gall").get(f"/rubriques/articles/{article_id}")
    assert "<h2>Titre</h2>" in html(page) and "<script" not in html(page).split("</main>")[0]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def _upload(client, rubric_id: int, data: bytes, name: str) -> dict:
    token = csrf_token(html(client.get(f"/rubriques/{rubric_id}/articles/nouveau")))
    response = client.post(f"/rubriques/{rubric_id}/fichiers", data={
        "csrf_token": token, "fichier": (io.BytesIO(data), name)},
        content_type="multipart/form-data")
    assert response.status_code == 200, html(response)
    return json.loads(html(response))


def test_images_and_files_are_served_to_the_articles_readers_only(app, rubric_id, claire):
    image = _upload(claire, rubric_id, PNG, "affiche.png")
    other = _upload(claire, rubric_id, b"<svg onload=alert(1)>", "dessin.svg")
    assert image["image"] and not other["image"]
    zoe = client_of(app, "zoe.le-gall")
    assert zoe.get(image["url"]).status_code == 404          # not in an article yet
    article_id = publish(claire, rubric_id, "Affiche", body=(
        f'<p><img src="{image["url"]}"></p><p><a href="{other["url"]}">dessin</a></p>'))
    shown = zoe.get(image["url"])
    assert shown.status_code == 200 and shown.data == PNG and shown.mimetype == "image/png"
    download = zoe.get(other["url"])
    assert download.mimetype == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment")
    _, other_parent = four_b(app)
    assert client_of(app, other_parent).get(image["url"]).status_code == 404
    with app.app_context():
        owned = db.session.scalars(select(ArticleFile.article_id).where(
            ArticleFile.id.in_([int(image["url"].split("/")[-1]),
                                int(other["url"].split("/")[-1])]))).all()
    assert owned == [article_id, article_id]


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(app, rubric_id, claire):
    token = csrf_token(html(claire.get(f"/rubriques/{rubric_id}/articles/nouveau")))
    with app.app_context():
        before = db.session.query(ArticleFile).count()
    app.config["PREAU"]["MAX_MESSAGE_MB"] = "1"
    app.extensions.pop("mailgate.settings", None)
    try:
        response = claire.post(f"/rubriques/{rubric_id}/fichiers", data={
            "csrf_token": token, "fichier": (io.BytesIO(b"x" * (2**20 + 1)), "gros.bin")})
    finally:
        app.config["PREAU"]["MAX_MESSAGE_MB"] = "20"
        app.extensions.pop("mailgate.settings", None)
    assert response.status_code == 400 and "taille maximale" in json.loads(html(response))["error"]
    with app.app_context():
        assert db.session.query(ArticleFile).count() == before


def test_an_untitled_article_is_refused_and_nothing_is_saved(app, rubric_id, claire):
    page = html(claire.get(f"/rubriques/{rubric_id}/articles/nouveau"))
    with app.app_context():
        before = db.session.query(Article).count()
    response = claire.post(f"/rubriques/{rubric_id}/articles/nouveau", data={
        "csrf_token": csrf_token(page), "titre": "  ", "contenu": "<p>x</p>",
        "publication": "maintenant", "commentaires": "off"})
    assert response.status_code == 400 and "Donnez un titre" in html(response)
    with app.app_context():
        assert db.session.query(Article).count() == before


def test_moderated_comments_wait_for_the_author(app, rubric_id, claire):
    article_id = publish(claire, rubric_id, "Fête de fin d'année", commentaires="moderated")
    zoe = client_of(app, "zoe.le-gall")
    page = html(zoe.get(f"/rubriques/articles/{article_id}"))
    response = zoe.post(f"/rubriques/articles/{article_id}/commentaires", data={
        "csrf_token": csrf_token(page), "texte": "J'apporte un gâteau"})
    assert response.status_code == 303
    assert "en attente de modération" in html(zoe.get(f"/rubriques/articles/{article_id}"))
    lucas = client_of(app, "lucas.martin")
    shown = html(lucas.get(f"/rubriques/articles/{article_id}"))
    assert "Commentaires" in shown and "J&#39;apporte un gâteau" not in shown
    manage = html(claire.get(f"/rubriques/articles/{article_id}"))
    comment_id = re.search(r'name="commentaire" value="(\d+)"', manage)[1]
    claire.post(f"/rubriques/articles/{article_id}/moderer", data={
        "csrf_token": csrf_token(manage), "commentaire": comment_id, "decision": "publier"})
    assert "J&#39;apporte un gâteau" in html(lucas.get(f"/rubriques/articles/{article_id}"))


def test_a_feed_token_works_until_it_is_revoked(app, rubric_id, claire):
    publish(claire, rubric_id, "Menu de la cantine")
    joseph = client_of(app, "joseph.fabre")
    page = html(joseph.get(f"/rubriques/{rubric_id}"))
    page = html(joseph.post(f"/rubriques/{rubric_id}/flux", data={"csrf_token": csrf_token(page)}))
    url = re.search(r'id="feed-url" type="text" readonly value="http://localhost([^"]+)"', page)[1]
    anonymous = app.test_client()
    feed = anonymous.get(url)
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    assert "Menu de la cantine" in html(feed) and "<feed" in html(feed)
    assert anonymous.get(url[:-10] + "x" * 5 + url[-5:]).status_code == 404
    joseph.post(f"/rubriques/{rubric_id}/flux/revoquer", data={"csrf_token": csrf_token(page)})
    assert anonymous.get(url).status_code == 404
    assert "adresse de mon flux" in html(joseph.get(f"/rubriques/{rubric_id}"))


def test_a_teacher_opens_her_rubric_to_another_population_and_names_a_manager(app, rubric_id,
                                                                             claire):
    page = html(claire.get(f"/rubriques/{rubric_id}/parametres"))
    assert "Parents d&#39;élèves de 4A" in page
    school = re.search(r'<option value="(s\d+)">', page)[1]
    claire.post(f"/rubriques/{rubric_id}/populations", data={
        "csrf_token": csrf_token(page), "profil": "staff", "portee": school})
    claire.post(f"/rubriques/{rubric_id}/gestionnaires", data={
        "csrf_token": csrf_token(page), "identifiant": "paul.durand"})
    page = html(claire.get(f"/rubriques/{rubric_id}/parametres"))
    assert "Personnels non enseignants — Collège Jean Jaurès" in page and "Paul Durand" in page
    paul = client_of(app, "paul.durand")
    assert paul.get(f"/rubriques/{rubric_id}/articles/nouveau").status_code == 200
    refused = claire.post(f"/rubriques/{rubric_id}/gestionnaires", data={
        "csrf_token": csrf_token(page), "identifiant": "zoe.le-gall"}, follow_redirects=True)
    assert "ni enseignant ni personnel" in html(refused)
