"""The mailbox search looks at the recipients in Cc: a member searching for a person's name
finds the messages where that person was only copied, once the indexer has read them (it
writes the search text again with the body) — through the real gateway and the search page."""
from __future__ import annotations

from directory.enums import Profile
from tests.conftest import login
from tests.portal.carnet_helpers import page

from .conftest import address_of, new_account
from .helpers import mail, raw, stored_with_id

JOSEPH = "joseph@example.org"


def test_a_person_only_in_cc_is_found_by_their_name(smtp, mail_app):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    copied = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    message = mail(JOSEPH, address_of(pupil), "Sortie au planétarium", "Départ à 9 h.",
                   Cc=f"{copied.full_name} <{address_of(copied)}>")
    assert smtp.sendmail(JOSEPH, [address_of(pupil), address_of(copied)], raw(message)) == {}
    stored = stored_with_id(message["Message-ID"])
    assert copied.last_name in stored.cc_display
    assert copied.last_name not in stored.to_display + stored.text_body + stored.subject

    browser = mail_app.test_client()
    assert login(browser, pupil.login, "Preau-demo-2026!").status_code == 302
    found = page(browser.get("/messagerie/recherche", query_string={"q": copied.last_name}))
    assert found.find("p", class_="result-count").text.strip() == \
        f"1 message contient « {copied.last_name} »"
    assert "Sortie au planétarium" in found.find("table").text
