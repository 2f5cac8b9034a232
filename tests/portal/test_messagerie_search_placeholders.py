"""The per-recipient placeholders of a message written for many (`[[preau:lien]]`,
`[[preau:nom]]`…, mailgate/personalise.py) stay out of the mailbox search: each reader reads
their own value there, never the placeholder, whichever way the message was stored (written
in the portal, or received by the gateway and indexed afterwards)."""
from __future__ import annotations

from directory.db import db
from mailgate import indexer, mime, routing
from portal.messagerie.search import search

from .carnet_helpers import client_of, page
from .messagerie_helpers import account, message
from .rubriques_helpers import four_a_rubric, publish, route_everything, send_form


def searched(client, text: str) -> list[str]:
    doc = page(client.get("/messagerie/recherche", query_string={"q": text}))
    assert doc.find("h1").text
    found = doc.find_all("table", class_="mail-list")
    return [row.find_all("td")[2].text for row in found[0].find("tbody").find_all("tr")] \
        if found else []


def test_a_mailing_is_found_by_what_its_reader_reads_not_by_its_placeholder(app):
    """A mailing asking for a confirmation is stored once with `[[preau:lien]]` in its
    text; searching « preau » found it in every reader's mailbox."""
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Autorisation de sortie")
    form = send_form(claire, article_id)
    response = claire.post(f"/rubriques/articles/{article_id}/envoyer", data={
        "csrf_token": form["csrf_token"], "cle": form["cle"],
        "populations": [form["populations"]["Élèves de 4A"]],
        "texte": "Merci de lire l'article.", "confirmation": "y", "envoyer": "1"})
    assert response.status_code == 303
    route_everything(app)
    zoe = client_of(app, "zoe.le-gall")
    assert searched(zoe, "confirmer votre lecture en un clic") == \
        ["Autorisation de sortie (non lu)"]
    assert searched(zoe, "preau") == []
    assert searched(zoe, "[[preau:lien]]") == []


def test_an_indexed_message_is_searched_without_its_placeholders(ctx):
    """The gateway stores a message raw and the indexer writes its search text later: by
    the same rule as a message stored whole."""
    zoe, claire = account("zoe.le-gall"), account("claire.bernard")
    raw = message("claire.bernard", ["zoe.le-gall"], "Sortie au zoo",
                  "Bonjour [[preau:nom]], la sortie au zoo est jeudi.").as_bytes()
    result = routing.route(claire, [zoe.id], mime.headers_only(raw))
    db.session.commit()
    assert indexer.index_ids([result.message_id]) == 1
    assert search(zoe, "la sortie au zoo est jeudi", 1).total == 1
    assert search(zoe, "preau", 1).total == 0
