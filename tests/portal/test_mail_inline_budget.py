"""The pictures sent inside a message are charged to the budget at each reference: one small
picture referenced thousands of times must not make a frame thousands of times its size."""
from __future__ import annotations

import base64

from .messagerie_helpers import item_id
from .test_mail_reading_review import LOGO, deliver_related, frame_images

REFERENCES = 500
BUDGET = 20 * len(LOGO)


def test_one_picture_referenced_500_times_stays_within_the_budget(app, student, monkeypatch):
    monkeypatch.setattr("portal.mail_html.INLINE_IMAGES_BUDGET", BUDGET)
    html = '<p>Regardez :</p>' + '<img src="cid:a@x">' * REFERENCES
    deliver_related(app, "Mille fois", html, [(LOGO, "image/png", "a@x")])
    item = item_id(app, "zoe.le-gall", "Mille fois")

    frame = student.get(f"/messagerie/message/{item}/contenu")
    assert frame.status_code == 200
    images = frame_images(student, item)
    assert len(images) == REFERENCES
    shown = [img["src"] for img in images if img["src"].startswith("data:image/png;base64,")]
    assert len(shown) == BUDGET // len(LOGO)
    assert base64.b64decode(shown[0].split(",", 1)[1]) == LOGO
    assert {img["src"] for img in images[len(shown):]} == {"cid:a@x"}
    # The pictures' copies weigh no more than the budget (base64: 4 characters for 3 bytes).
    assert len(frame.data) <= len(html) + 4 * BUDGET // 3 + 64 * len(shown) + 1_000
