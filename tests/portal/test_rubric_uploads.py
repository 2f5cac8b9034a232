"""Files uploaded from the article editor that no saved article points at: a person may hold
only so many of them, those older than a day go at their uploader's next upload and with
`preau purge-uploads`, and a file an article shows — a draft's too — is never purged."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from portal import cli
from portal.rubriques import articles
from portal.rubriques.articles import PENDING_BYTES_MAX, PENDING_FILES_MAX
from portal.rubriques.models import ArticleFile
from tests.conftest import csrf_token

from .rubriques_helpers import client_of, four_a_rubric, html, publish

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
TOO_MANY = "trop de fichiers envoyés qui ne sont encore dans aucun article enregistré"


@pytest.fixture
def rubric_id(app):
    return four_a_rubric(app)


@pytest.fixture
def claire(app):
    return client_of(app, "claire.bernard")


class Editor:
    """A manager's article editor as the browser uses it: one CSRF token, uploads posted as
    multipart forms, answered in JSON."""

    def __init__(self, client, rubric_id: int):
        self.client, self.rubric_id = client, rubric_id
        self.token = csrf_token(html(client.get(f"/rubriques/{rubric_id}/articles/nouveau")))

    def send(self, data: bytes, name: str = "photo.png"):
        response = self.client.post(f"/rubriques/{self.rubric_id}/fichiers", data={
            "csrf_token": self.token, "fichier": (io.BytesIO(data), name)},
            content_type="multipart/form-data")
        return response.status_code, json.loads(html(response))

    def upload(self, data: bytes = PNG, name: str = "photo.png") -> dict:
        status, answer = self.send(data, name)
        assert status == 200, answer
        return answer


def file_id(uploaded: dict) -> int:
    return int(uploaded["url"].rstrip("/").split("/")[-1])


def account_id(app, login: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.login == login))


def stored(app, login: str) -> dict[int, int | None]:
    """The files `login` uploaded: id → article id (None: in no saved article)."""
    with app.app_context():
        return dict(db.session.execute(select(ArticleFile.id, ArticleFile.article_id).where(
            ArticleFile.uploader_id == account_id(app, login))).all())


def age(app, ids: list[int], hours: float) -> None:
    """Files uploaded `hours` ago (the clock is not moved: sessions would expire)."""
    with app.app_context():
        db.session.execute(update(ArticleFile).where(ArticleFile.id.in_(ids)).values(
            created_at=utcnow() - timedelta(hours=hours)))
        db.session.commit()


def left_by(app, login: str, hours: float = 48, size: int = 10) -> int:
    """A file `login` uploaded `hours` ago and left in no article."""
    with app.app_context():
        item = ArticleFile(uploader_id=account_id(app, login), filename="oubli.png",
                           content_type="image/png", size=size, data=b"x" * min(size, 64),
                           created_at=utcnow() - timedelta(hours=hours))
        db.session.add(item)
        db.session.commit()
        return item.id


# --- the bound on pending uploads ------------------------------------------------------------

def test_past_the_pending_count_an_upload_is_refused_and_nothing_is_stored(app, rubric_id,
                                                                            claire):
    editor = Editor(claire, rubric_id)
    sent = [editor.upload(PNG, f"photo-{n}.png") for n in range(PENDING_FILES_MAX)]
    assert len(stored(app, "claire.bernard")) == PENDING_FILES_MAX

    status, answer = editor.send(PNG, "une-de-trop.png")
    assert status == 400 and TOO_MANY in answer["error"]
    assert f"{PENDING_FILES_MAX} fichiers" in answer["error"]
    assert len(stored(app, "claire.bernard")) == PENDING_FILES_MAX

    # Saving the article that shows them frees the bound: they are no longer pending.
    body = "".join(f'<p><img src="{item["url"]}"></p>' for item in sent)
    article_id = publish(claire, rubric_id, "Sortie au musée", body=body,
                         publication="brouillon")
    assert set(stored(app, "claire.bernard").values()) == {article_id}
    assert editor.upload(PNG, "la-suivante.png")["image"]


def test_past_the_pending_bytes_an_upload_is_refused_and_nothing_is_stored(app, rubric_id,
                                                                            claire):
    left_by(app, "claire.bernard", hours=1, size=PENDING_BYTES_MAX - 100)
    before = stored(app, "claire.bernard")
    editor = Editor(claire, rubric_id)

    status, answer = editor.send(b"x" * 101, "un-octet-de-trop.bin")
    assert status == 400 and TOO_MANY in answer["error"]
    assert f"{PENDING_BYTES_MAX // 2**20} Mo" in answer["error"]
    assert stored(app, "claire.bernard") == before

    assert editor.upload(b"x" * 100, "juste-assez.bin")["name"] == "juste-assez.bin"


# --- purging orphans ---------------------------------------------------------------------------

def test_an_orphan_older_than_a_day_goes_at_its_uploaders_next_upload(app, rubric_id, claire):
    editor = Editor(claire, rubric_id)
    abandoned, in_draft, recent = editor.upload(), editor.upload(), editor.upload()
    draft = publish(claire, rubric_id, "Brouillon illustré", publication="brouillon",
                    body=f'<p><img src="{in_draft["url"]}"></p>')
    age(app, [file_id(abandoned), file_id(in_draft)], hours=30)
    age(app, [file_id(recent)], hours=23)
    someone_elses = left_by(app, "zoe.le-gall")

    new = editor.upload()

    assert stored(app, "claire.bernard") == {file_id(in_draft): draft, file_id(recent): None,
                                             file_id(new): None}
    assert claire.get(abandoned["url"]).status_code == 404
    shown = claire.get(in_draft["url"])
    assert shown.status_code == 200 and shown.data == PNG
    assert someone_elses in stored(app, "zoe.le-gall")      # only the uploader's own


def test_purge_uploads_deletes_every_orphan_older_than_a_day_and_keeps_drafts_files(
        app, rubric_id, claire, monkeypatch):
    editor = Editor(claire, rubric_id)
    abandoned, in_draft, recent = editor.upload(), editor.upload(), editor.upload()
    draft = publish(claire, rubric_id, "Brouillon illustré", publication="brouillon",
                    body=f'<p><img src="{in_draft["url"]}"></p>')
    age(app, [file_id(abandoned), file_id(in_draft)], hours=30)
    someone_elses = left_by(app, "zoe.le-gall")
    monkeypatch.setattr(cli, "_app", lambda: app)

    result = CliRunner().invoke(cli.main, ["purge-uploads"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Fichiers d'articles abandonnés effacés : 2."
    assert stored(app, "claire.bernard") == {file_id(in_draft): draft, file_id(recent): None}
    assert someone_elses not in stored(app, "zoe.le-gall")
    shown = claire.get(in_draft["url"])
    assert shown.status_code == 200 and shown.data == PNG


def test_the_purge_goes_through_every_batch(app):
    left = [left_by(app, "zoe.le-gall") for _ in range(5)]
    with app.app_context():
        assert articles.purge_orphans(batch=2) == 5
        assert db.session.scalars(select(ArticleFile.id).where(
            ArticleFile.id.in_(left))).all() == []
