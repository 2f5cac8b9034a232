"""Answers to an agenda invitation from one's own mail client: the notice forwarded to Joseph
carries a METHOD:REQUEST invitation; the METHOD:REPLY his client would send (built with
icalendar, sent with smtplib) comes back through the real gateway to the event's signed
answering address and counts as his answer. Forged or unsigned replies are refused."""
from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import icalendar
import pytest

from agenda import confirmations, events, notices
from agenda.models import AnswerChannel, AnswerKind
from directory.clock import travel_to, utcnow
from directory.db import db, write_transaction
from mailgate import fanout
from tests.agenda.conftest import event_input

from .agenda_helpers import Links, answer_of, invitation_to, published
from .conftest import account


def reply(invitation: bytes, partstat: str, *, attendee: str, comment: str = "",
          sender: str = "joseph@example.org", method: str = "REPLY",
          written: datetime | None = None) -> tuple[EmailMessage, str]:
    """The REPLY a mail client writes (RFC 5546 §3.2.3): same UID and SEQUENCE, the
    attendee alone with their PARTSTAT, stamped when it is written (`written`, UTC: now)."""
    request = icalendar.Calendar.from_ical(invitation).walk("VEVENT")[0]
    answer = icalendar.Event()
    for name in ("UID", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER"):
        answer.add(name, request.decoded(name) if name != "ORGANIZER" else request[name])
    answer.add("DTSTAMP", (written or utcnow()).replace(tzinfo=UTC))
    who = icalendar.vCalAddress(f"mailto:{attendee}")
    who.params["PARTSTAT"] = partstat
    answer.add("ATTENDEE", who)
    if comment:
        answer.add("COMMENT", comment)
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//Test client//FR")
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", method)
    calendar.add_component(answer)
    organizer = str(request["ORGANIZER"]).removeprefix("mailto:")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = organizer
    message["Subject"] = f"Accepté : {request['SUMMARY']}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("Réponse à l'invitation.")
    message.add_alternative(calendar.to_ical(), maintype="text", subtype="calendar",
                            params={"method": method})
    return message, organizer


def test_the_invitation_names_joseph_alone_and_the_signed_organizer(sink):
    event, job = published("Sortie au musée (invitation)", notify=True, ask_confirmation=True)
    message, data = invitation_to(sink, "joseph@example.org", "Sortie au musée (invitation)")
    progress = fanout.progress(db.session.merge(job))
    assert progress.finished and progress.count("forwarded") > 0 \
        and progress.count("delivered") > 0
    assert str(message["Subject"]).startswith("Évènement ajouté : Sortie au musée (invitation) "
                                              "(le 12/03/2026 à 09:00) par Claire Bernard")
    assert "Vous pouvez confirmer votre présence sur la fiche de l'évènement" in \
        message.get_body(("plain",)).get_content()
    calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    assert any(p.get_filename() == "invite.ics" for p in message.walk())
    calendar = icalendar.Calendar.from_ical(data)
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    vevent = calendar.walk("VEVENT")[0]
    assert vevent["UID"] == event.uid and vevent["SEQUENCE"] == 0 and "DTSTAMP" in vevent
    assert str(vevent["ORGANIZER"]).startswith(f"mailto:agenda+{event.id}-")
    attendees = vevent["ATTENDEE"]
    assert not isinstance(attendees, list)              # Joseph alone: no one else's address
    assert str(attendees) == "mailto:joseph@example.org"
    assert attendees.params["RSVP"] == "TRUE"
    assert vevent.decoded("DTSTART").hour == 9 and str(vevent["DTSTART"].params["TZID"]) == \
        "Europe/Paris"
    assert "claire.bernard@example.net" not in data.decode()    # redirects stay private


def test_joseph_accepts_with_a_comment_then_refuses_from_his_mail_client(sink, smtp):
    event, _ = published("Sortie au musée (réponse)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (réponse)")
    message, organizer = reply(invitation, "ACCEPTED", attendee="joseph@example.org",
                               comment="Je peux accompagner")
    smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    answer = answer_of(event, "joseph.fabre")
    assert (answer.answer.value, answer.comment, answer.channel.value) == \
        ("accepted", "Je peux accompagner", "mail")
    message, organizer = reply(invitation, "DECLINED", attendee="joseph@example.org")
    smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    assert answer_of(event, "joseph.fabre").answer.value == "refused"


def test_a_reply_attached_as_an_untyped_ics_file_counts(sink, smtp):
    """Some clients attach the answer as application/octet-stream named *.ics; the same bytes
    under another name are not read as a calendar, and the mail is refused as unreadable."""
    event, _ = published("Sortie au musée (pièce jointe)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (pièce jointe)")

    def attached_as(filename: str) -> tuple[EmailMessage, str]:
        typed, organizer = reply(invitation, "DECLINED", attendee="joseph@example.org")
        calendar = next(p for p in typed.walk() if p.get_content_type() == "text/calendar")
        message = EmailMessage()
        for header in ("From", "To", "Subject", "Date", "Message-ID"):
            message[header] = typed[header]
        message.set_content("Je ne pourrai pas venir.")
        message.add_attachment(calendar.get_payload(decode=True), maintype="application",
                               subtype="octet-stream", filename=filename)
        return message, organizer

    message, organizer = attached_as("notes.txt")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    assert refused.value.smtp_code == 550
    assert answer_of(event, "joseph.fabre") is None
    message, organizer = attached_as("reponse.ICS")
    smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    assert answer_of(event, "joseph.fabre").answer.value == "refused"


def test_a_reply_to_an_unsigned_or_forged_address_is_refused(sink, smtp):
    event, _ = published("Sortie au musée (faux)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (faux)")
    message, organizer = reply(invitation, "ACCEPTED", attendee="joseph@example.org")
    for forged in (f"agenda+{event.id}@ent.test", f"agenda+{event.id}-aaaaaaaaaaaaaaaa@ent.test",
                   organizer.replace(f"+{event.id}-", f"+{event.id + 1}-")):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail("joseph@example.org", [forged], message.as_bytes(policy=policy.SMTP))
        code, text = refused.value.recipients[forged]
        assert code == 550 and b"5.1.1" in text
    assert answer_of(event, "joseph.fabre") is None


def test_a_member_cannot_answer_for_another(sink, smtp):
    event, _ = published("Sortie au musée (usurpation)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (usurpation)")
    message, organizer = reply(invitation, "ACCEPTED", attendee="joseph@example.org",
                               sender="claire.bernard@example.net")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("claire.bernard@example.net", [organizer], message.as_bytes(policy=policy.SMTP))
    assert refused.value.smtp_code == 550
    assert "au nom d'une autre personne" in refused.value.smtp_error.decode()
    assert answer_of(event, "joseph.fabre") is None


def test_a_stranger_cannot_answer(sink, smtp):
    event, _ = published("Sortie au musée (inconnu)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (inconnu)")
    message, organizer = reply(invitation, "ACCEPTED", attendee="joseph@example.org",
                               sender="joseph.fabre@free.fr")
    with pytest.raises(smtplib.SMTPSenderRefused):
        smtp.sendmail("joseph.fabre@free.fr", [organizer], message.as_bytes(policy=policy.SMTP))
    assert answer_of(event, "joseph.fabre") is None


def test_a_changed_event_sends_a_new_sequence_and_a_cancelled_one_a_cancel(sink):
    event, _ = published("Sortie au musée (modifiée)", notify=True, ask_confirmation=True)
    claire = account("claire.bernard")

    def change():
        agenda = db.session.merge(event).agenda
        changed, kind = events.save(claire, agenda, event_input(
            "Sortie au musée (modifiée)", place="Muséum", notify=True, ask_confirmation=True),
            db.session.merge(event))
        return notices.after_save(claire, changed, kind, Links())

    write_transaction(change)
    _, data = invitation_to(sink, "joseph@example.org", "Évènement modifié")
    vevent = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]
    assert (vevent["SEQUENCE"], str(vevent["LOCATION"])) == (1, "Muséum")
    write_transaction(lambda: notices.after_save(
        claire, db.session.merge(event), events.cancel(db.session.merge(event)), Links()))
    message, data = invitation_to(sink, "joseph@example.org", "Évènement annulé")
    calendar = icalendar.Calendar.from_ical(data)
    assert calendar["METHOD"] == "CANCEL"
    assert calendar.walk("VEVENT")[0]["SEQUENCE"] == 2
    assert calendar.walk("VEVENT")[0]["STATUS"] == "CANCELLED"


def test_a_tentative_answer_is_refused_with_its_reason(sink, smtp):
    event, _ = published("Sortie au musée (peut-être)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (peut-être)")
    message, organizer = reply(invitation, "TENTATIVE", attendee="joseph@example.org")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    assert refused.value.smtp_code == 550
    assert "TENTATIVE" in refused.value.smtp_error.decode()
    assert answer_of(event, "joseph.fabre") is None


@pytest.mark.parametrize(("method", "expected"), [
    ("COUNTER", "Preau ne recoit pas de proposition d'un autre horaire"),
    ("REFRESH", "Preau n'envoie pas de nouvelle copie de l'invitation"),
])
def test_another_time_proposed_or_the_invitation_asked_again_is_refused_with_what_to_do(
        sink, smtp, method, expected):
    event, _ = published(f"Sortie au musée ({method})", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", f"Sortie au musée ({method})")
    message, organizer = reply(invitation, "ACCEPTED", attendee="joseph@example.org",
                               method=method)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    assert refused.value.smtp_code == 550
    assert expected in refused.value.smtp_error.decode()
    assert answer_of(event, "joseph.fabre") is None


def test_a_refused_answer_also_sent_to_someone_else_is_reported_to_its_author(sink, smtp):
    """The message goes to its other recipient (250): the refusal of its agenda part
    cannot be said in the reply, so a report says it."""
    event, _ = published("Sortie au musée (copie)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (copie)")
    message, organizer = reply(invitation, "TENTATIVE", attendee="joseph@example.org")
    del message["To"]
    message["To"] = f"{organizer}, claire.bernard@ent.test"
    sink.reset()
    smtp.sendmail("joseph@example.org", [organizer, "claire.bernard@ent.test"],
                  message.as_bytes(policy=policy.SMTP))
    from mailgate import worker

    worker.drain()
    assert answer_of(event, "joseph.fabre") is None
    from email import message_from_bytes

    reports = [message_from_bytes(d.data, policy=policy.default)
               for d in sink.to("joseph@example.org")]
    (report,) = [r for r in reports if r["Subject"].startswith("Non pris en compte")]
    assert "TENTATIVE" in report.get_content()


def test_a_long_note_from_a_mail_client_keeps_its_answer(sink, smtp):
    """Past the form's 1,000 characters the whole answer was refused: the note is cut."""
    event, _ = published("Sortie au musée (long mot)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (long mot)")
    message, organizer = reply(invitation, "ACCEPTED", attendee="joseph@example.org",
                               comment="Bien reçu. " * 200)
    smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    answer = answer_of(event, "joseph.fabre")
    assert answer.answer.value == "accepted" and len(answer.comment) == 1000


def test_an_answer_written_before_the_one_given_on_the_page_does_not_undo_it(sink, smtp):
    """Joseph's phone, offline, wrote « no » at 10:00; he said « yes » on the page at 11:00;
    the phone's mail comes at noon: his answer stays « yes », and the mail is refused with
    why. An answer his client writes after 11:00 still counts."""
    event, _ = published("Sortie au musée (hors ligne)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (hors ligne)")
    joseph, day = account("joseph.fabre"), datetime(2026, 3, 2)
    with travel_to(day.replace(hour=11)):
        write_transaction(lambda: confirmations.answer(
            db.session.merge(event), db.session.merge(joseph), AnswerKind.ACCEPTED,
            channel=AnswerChannel.PAGE))
    with travel_to(day.replace(hour=12)):
        message, organizer = reply(invitation, "DECLINED", attendee="joseph@example.org",
                                   written=day.replace(hour=10))
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("joseph@example.org", [organizer],
                          message.as_bytes(policy=policy.SMTP))
        assert refused.value.smtp_code == 550
        assert "Cette reponse a ete ecrite le 02/03/2026 a 11:00, avant celle que Preau a " \
            "enregistree le 02/03/2026 a 12:00 : elle n'est pas prise en compte." in \
            " ".join(refused.value.smtp_error.decode().split())      # Paris time, UTC+1
        answer = answer_of(event, "joseph.fabre")
        assert (answer.answer.value, answer.channel.value) == ("accepted", "page")
        message, organizer = reply(invitation, "DECLINED", attendee="joseph@example.org",
                                   written=day.replace(hour=11, minute=30))
        smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
        answer = answer_of(event, "joseph.fabre")
        assert (answer.answer.value, answer.channel.value) == ("refused", "mail")


def test_an_answer_with_a_nul_character_is_refused_for_good(sink, smtp):
    """PostgreSQL refuses U+0000 in text: the comment reached the INSERT and the gateway
    answered 451, so the client tried again for days. It is unreadable: refused at once."""
    event, _ = published("Sortie au musée (NUL)", notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", "Sortie au musée (NUL)")
    message, organizer = reply(invitation, "ACCEPTED", attendee="joseph@example.org",
                               comment="Je viens\x00 avec ma fille")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))
    assert refused.value.smtp_code == 550
    assert "Ce message ne contient pas de reponse iCalendar (METHOD:REPLY) lisible." in \
        " ".join(refused.value.smtp_error.decode().split())
    assert answer_of(event, "joseph.fabre") is None
