"""Answers to an agenda invitation as real mail clients write them (tests/data/itip/, one
file per client shape, README there): each comes through the real gateway to the event's
signed answering address and counts as Joseph's answer, with his note when the client
carries one. A tentative answer is refused with its reason, whatever the client."""
from __future__ import annotations

import base64
import email
import quopri
import smtplib
from email import policy
from pathlib import Path

import icalendar
import pytest

from .agenda_helpers import answer_of, invitation_to, published

SHAPES = Path(__file__).resolve().parents[1] / "data" / "itip"
JOSEPH = "joseph@example.org"


def client_reply(name: str, *, uid: str, organizer: str) -> bytes:
    """The fixture with this event's UID and answering address put in its placeholders,
    inside encoded parts too (decoded, filled in, encoded again the same way)."""
    def fill(data: bytes) -> bytes:
        return data.replace(b"{{UID}}", uid.encode()).replace(b"{{ORGANIZER}}",
                                                                organizer.encode())

    raw = fill((SHAPES / name).read_bytes())
    message = email.message_from_bytes(raw, policy=policy.compat32)
    changed = False
    for part in message.walk():
        encoding = str(part.get("Content-Transfer-Encoding", "")).lower()
        if part.is_multipart() or encoding not in ("base64", "quoted-printable"):
            continue
        data = part.get_payload(decode=True)
        if b"{{" in data:
            encode = base64.encodebytes if encoding == "base64" else quopri.encodestring
            part.set_payload(encode(fill(data)).decode("ascii"))
            changed = True
    return message.as_bytes(policy=policy.compat32.clone(linesep="\r\n")) if changed else raw


def send_reply(sink, smtp, name: str, title: str):
    event, _ = published(title, notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, JOSEPH, title)
    request = icalendar.Calendar.from_ical(invitation).walk("VEVENT")[0]
    organizer = str(request["ORGANIZER"]).removeprefix("mailto:")
    data = client_reply(name, uid=event.uid, organizer=organizer)
    assert b"{{" not in data
    smtp.sendmail(JOSEPH, [organizer], data)
    return event


@pytest.mark.parametrize(("name", "answer", "comment"), [
    ("thunderbird-accepted.eml", "accepted", ""),
    ("thunderbird-outlook-compat-declined.eml", "refused", ""),
    ("outlook-exchange-accepted.eml", "accepted", "Je viendrai avec ma fille, merci !"),
    ("gmail-declined.eml", "refused", "Désolé, j'ai un conseil de classe ce soir-là"),
    ("apple-accepted.eml", "accepted", ""),
    ("nextcloud-accepted.eml", "accepted", ""),
    ("evolution-accepted.eml", "accepted", "Je serai là à 8 h 45 devant le musée."),
])
def test_a_clients_reply_counts_as_the_members_answer(sink, smtp, name, answer, comment):
    event = send_reply(sink, smtp, name, f"Sortie au musée ({name})")
    recorded = answer_of(event, "joseph.fabre")
    assert recorded is not None, f"{name}: no answer recorded"
    assert (recorded.answer.value, recorded.comment, recorded.channel.value) == \
        (answer, comment, "mail")


def test_outlooks_tentative_answer_is_refused_with_its_reason(sink, smtp):
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_reply(sink, smtp, "outlook-desktop-tentative.eml", "Sortie au musée (Outlook ?)")
    assert refused.value.smtp_code == 550
    assert "TENTATIVE" in refused.value.smtp_error.decode()


def test_every_fixture_keeps_its_clients_line_endings_and_names_its_shape():
    for path in sorted(SHAPES.glob("*.eml")):
        data = path.read_bytes()
        assert data.startswith(b"X-Fixture-Note: "), path.name
        assert b"\n" not in data.replace(b"\r\n", b""), f"{path.name}: a bare LF"
