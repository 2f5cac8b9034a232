"""RGPD download of a large mailbox (an outbox has no quota): the archive is sent as it is
read from its temporary file, and no read of the messages holds more than a bounded number
of bytes, whatever the mailbox weighs (portal/personal_data.py)."""
from __future__ import annotations

import email
import io
import os
import zipfile
from email import policy

from flask import request_finished

from mailgate import store

from .messagerie_helpers import deliver

READ_CAP = 16 * 1024 * 1024     # bytes of messages one read may hold (or a single message)
MESSAGES = 20
ATTACHMENT = os.urandom(1024 * 1024)    # 1 MB, about 1.4 MB once encoded in the message


def test_a_large_outbox_is_read_in_bounded_batches_and_streamed(app, logged_in,
                                                                 monkeypatch):
    for n in range(MESSAGES):
        deliver(app, "claire.bernard", ["joseph.fabre"], f"Pièce jointe {n}", "Ci-joint.",
                files=(("releve.bin", "application/octet-stream", ATTACHMENT),))
    reads = []
    read = store.messages_bytes

    def watched(message_ids):
        found = read(message_ids)
        reads.append((len(found), sum(len(data) for data in found.values())))
        return found

    monkeypatch.setattr(store, "messages_bytes", watched)
    claire = logged_in("claire.bernard")
    produced = []     # the response as the app made it (the test client's is always streamed)

    def finished(sender, response, **extra):
        produced.append(response)

    with request_finished.connected_to(finished, app):
        response = claire.get("/preferences/mes-donnees.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    (made,) = produced
    assert made.is_streamed and made.direct_passthrough   # its file, read a block at a time
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "mes-donnees-preau.zip" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert response.content_length == len(data)
    response.close()

    archive = zipfile.ZipFile(io.BytesIO(data))
    sent = [email.message_from_bytes(archive.read(name), policy=policy.default)
            for name in archive.namelist() if name.endswith(".eml")]
    ours = {m["Subject"]: m for m in sent if m["Subject"].startswith("Pièce jointe ")}
    assert set(ours) == {f"Pièce jointe {n}" for n in range(MESSAGES)}
    for message in ours.values():
        (attached,) = list(message.iter_attachments())
        assert attached.get_filename() == "releve.bin" and attached.get_content() == ATTACHMENT

    assert sum(size for _, size in reads) > MESSAGES * len(ATTACHMENT)
    assert all(size <= READ_CAP or count == 1 for count, size in reads), reads
