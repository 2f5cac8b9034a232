"""Reading mail in Chromium, after the front-end review: a picture sent inside an HTML message
(`cid:`) shows in the sandboxed frame, a link to a section of the message scrolls the frame
instead of opening a tab, and the frame's document opened on its own has no origin."""
from __future__ import annotations

import re
import uuid

from tests.browser.conftest import browser_login
from tests.portal.test_mail_reading_review import LOGO, deliver_related


def test_a_signature_picture_shows_and_sections_links_scroll_the_frame(page, live_app):
    subject = f"Lettre du collège {uuid.uuid4().hex[:6]}"
    filler = "".join(f"<p>Paragraphe {n}</p>" for n in range(200))
    deliver_related(live_app, subject, (
        '<p><a href="#fin">Aller à la fin</a></p>' + filler
        + '<h2 id="fin">Fin</h2><img src="cid:logo@college.example" alt="logo">'),
        [(LOGO, "image/png", "logo@college.example")])
    browser_login(page, "zoe.le-gall")
    page.goto("/messagerie/")
    page.get_by_role("link", name=re.compile(re.escape(subject))).first.click()
    frame_element = page.locator("iframe.mail-html")
    frame_element.wait_for()
    frame = frame_element.element_handle().content_frame()
    frame.wait_for_load_state()

    assert frame.evaluate("document.querySelector('img').naturalWidth") == 12
    assert frame.evaluate("scrollY") == 0
    frame.get_by_role("link", name="Aller à la fin").click()
    frame.wait_for_function("scrollY > 0")
    assert frame.url.endswith("/contenu#fin")
    assert len(page.context.pages) == 1

    page.goto(frame.url)   # as a link once opened it, in a tab of its own
    assert page.evaluate("origin") == "null"
    assert page.evaluate("document.querySelector('img').naturalWidth") == 12
