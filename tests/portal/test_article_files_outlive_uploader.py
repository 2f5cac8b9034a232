"""An article keeps its images and files when the account that uploaded them is deleted (a
teacher who left, deleted by an administrator): its readers still see the image and download
the file. What that account had uploaded into no saved article goes at the next
`preau purge-uploads`."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.db import db
from directory.models import Account
from portal.rubriques import articles
from portal.rubriques.models import ArticleFile
from tests.conftest import post_form

from .annuaire_helpers import html as page
from .rubriques_helpers import client_of, four_a_rubric, publish
from .test_rubric_uploads import PNG, Editor, file_id, left_by

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def rubric_id(app):
    return four_a_rubric(app)


def delete_account(app, login: str) -> None:
    """As an administrator does it: the account's page, « Supprimer », confirmed."""
    with app.app_context():
        target = db.session.scalar(select(Account.id).where(Account.login == login))
    admin = client_of(app, "admin")
    url = f"/administration/comptes/{target}/suppression"
    done = post_form(admin, url, {}, follow_redirects=True)
    assert done.status_code == 200
    with app.app_context():
        assert db.session.get(Account, target) is None


def test_an_articles_image_and_file_are_still_served_after_their_uploader_is_deleted(
        app, rubric_id):
    claire = client_of(app, "claire.bernard")
    editor = Editor(claire, rubric_id)
    image, document = editor.upload(PNG, "sortie.png"), editor.upload(PDF, "programme.pdf")
    article_id = publish(claire, rubric_id, "Sortie au musée", body=(
        f'<p><img src="{image["url"]}"></p><p><a href="{document["url"]}">Programme</a></p>'))
    zoe = client_of(app, "zoe.le-gall")
    assert zoe.get(image["url"]).data == PNG

    delete_account(app, "claire.bernard")

    shown = page(zoe.get(f"/rubriques/articles/{article_id}"))
    assert "Sortie au musée" in shown.text
    assert [img.attrs["src"] for img in shown.all("img")
            if img.attrs.get("src") == image["url"]] == [image["url"]]
    assert [a.text for a in shown.all("a", href=document["url"])] == ["Programme"]
    served = zoe.get(image["url"])
    assert served.status_code == 200 and served.data == PNG
    assert served.mimetype == "image/png"
    downloaded = zoe.get(document["url"])
    assert downloaded.status_code == 200 and downloaded.data == PDF
    assert "programme.pdf" in downloaded.headers["Content-Disposition"]
    with app.app_context():
        kept = db.session.execute(select(ArticleFile.article_id, ArticleFile.uploader_id).where(
            ArticleFile.id.in_([file_id(image), file_id(document)]))).all()
    assert [tuple(row) for row in kept] == [(article_id, None), (article_id, None)]


def test_what_a_deleted_account_left_in_no_article_goes_at_the_next_purge(app, rubric_id):
    claire = client_of(app, "claire.bernard")
    editor = Editor(claire, rubric_id)
    shown, pending = editor.upload(PNG, "dans-l-article.png"), editor.upload(PNG, "oubli.png")
    article_id = publish(claire, rubric_id, "Kermesse",
                         body=f'<p><img src="{shown["url"]}"></p>')
    someone_elses = left_by(app, "paul.durand", hours=1)

    delete_account(app, "claire.bernard")

    with app.app_context():
        assert articles.purge_orphans() == 1     # a minute old: only its uploader could claim it
        left = dict(db.session.execute(select(ArticleFile.id, ArticleFile.article_id).where(
            ArticleFile.id.in_([file_id(shown), file_id(pending), someone_elses]))).all())
    assert left == {file_id(shown): article_id, someone_elses: None}
    zoe = client_of(app, "zoe.le-gall")
    assert zoe.get(shown["url"]).data == PNG
