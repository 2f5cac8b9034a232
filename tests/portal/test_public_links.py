"""Links that leave the portal begin with PREAU_PUBLIC_URL when it is set, whatever host the
request named: the portal sits behind a proxy that may rewrite it, and the people who open a
mailed link, a feed or a calendar file must reach the portal's public address."""
from __future__ import annotations

import re

from .test_agenda_ics_in_and_out import export
from .test_agenda_pages import new_event
from .test_preferences import mails_to, request_address

PUBLIC = "https://ent.example.org"


def test_the_redirect_address_confirmation_link_begins_with_the_public_url(app, staff,
                                                                            monkeypatch):
    monkeypatch.setitem(app.config["PREAU"], "PUBLIC_URL", PUBLIC)
    assert request_address(staff, "staff-public@example.org").status_code == 302
    (message,) = mails_to(app, "staff-public@example.org")
    body = message.get_body(("plain",)).get_content()
    assert re.findall(r"https?://[^/\s]+/preferences/verifier/", body) == [
        f"{PUBLIC}/preferences/verifier/"]


def test_an_agenda_export_names_its_events_at_the_public_url(app, teacher, monkeypatch):
    monkeypatch.setitem(app.config["PREAU"], "PUBLIC_URL", PUBLIC)
    new_event(teacher, app, title="Sortie au zoo")
    data = export(teacher, app).decode()
    urls = re.findall(r"URL:(\S+)", data.replace("\r\n ", ""))
    assert urls and all(url.startswith(f"{PUBLIC}/agenda/") for url in urls)
