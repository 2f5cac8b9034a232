"""Every reply of the gateway (issue 5), over a real SMTP conversation on loopback."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

from directory.db import db
from directory.enums import Profile
from mailgate import store
from mailgate.models import FolderKind
from mailgate.settings import current

from .conftest import account, address_of, new_account
from .helpers import inbox, mail, raw, stored_with_id

JOSEPH = "joseph@example.org"
ZOE = "zoe.le-gall@ent.test"


def text(reply: bytes) -> str:
    return reply.decode("utf-8")


def test_ehlo_offers_size_8bitmime_smtputf8_pipelining(smtp):
    code, features = smtp.ehlo("client.example.org")
    assert code == 250
    assert smtp.has_extn("size") and smtp.esmtp_features["size"] == str(20 * 1024 * 1024)
    for extension in ("8bitmime", "smtputf8", "pipelining"):
        assert smtp.has_extn(extension), features
    assert not smtp.has_extn("starttls")      # no certificate configured
    assert not smtp.has_extn("auth")


def test_mail_from_a_members_redirect_address_reaches_the_students_inbox(smtp):
    zoe = account("zoe.le-gall")
    message = mail(JOSEPH, ZOE, "Sortie au musée")
    assert smtp.mail(JOSEPH)[0] == 250
    assert smtp.rcpt(ZOE)[0] == 250
    code, reply = smtp.data(raw(message))
    assert code == 250 and text(reply).startswith("2.0.0")
    stored = stored_with_id(message["Message-ID"])
    assert stored is not None and stored in inbox(zoe)
    assert stored.author_id == account("joseph.fabre").id
    source = stored.source.decode()
    assert "From: Joseph Fabre <joseph.fabre@ent.test>" in source
    assert JOSEPH not in source
    assert (stored.from_name, stored.from_address) == ("Joseph Fabre", "joseph.fabre@ent.test")
    assert source.startswith("Received: by mail.ent.test (Preau) with ESMTP id ")


def test_the_received_field_says_when_each_message_came_in(smtp):
    """Its date is the second the message was accepted (made once a second, not stale)."""
    dates = []
    for n in range(2):
        if n:
            time.sleep(1.1)
        message = mail(JOSEPH, ZOE, f"Heure {n}")
        before = time.time()
        smtp.sendmail(JOSEPH, [ZOE], raw(message))
        after = time.time()
        received = stored_with_id(message["Message-ID"]).source.decode().split("\r\n")[0]
        when = parsedate_to_datetime(received.rpartition("; ")[2]).timestamp()
        assert int(before) <= when <= after
        dates.append(when)
    assert dates[1] - dates[0] >= 1


def test_redirect_addresses_in_to_and_cc_are_stored_as_universal_addresses(smtp):
    """A parent copying another member's private address must not show it in list columns."""
    zoe = account("zoe.le-gall")
    message = mail(JOSEPH, [ZOE, JOSEPH], "Copie à moi-même")
    message["Cc"] = f"Joseph <{JOSEPH}>"
    smtp.sendmail(JOSEPH, [ZOE], raw(message))
    stored = stored_with_id(message["Message-ID"])
    assert stored in inbox(zoe)
    shown = stored.to_display + stored.cc_display + stored.from_address + stored.source.decode()
    assert JOSEPH not in shown
    assert "joseph.fabre@ent.test" in stored.to_display and stored.cc_display


def test_relay_to_another_domain_is_refused_550_571(smtp):
    smtp.mail(JOSEPH)
    code, reply = smtp.rcpt("someone@gmail.com")
    assert code == 550 and text(reply).startswith("5.7.1 someone@gmail.com n'est pas une "
                                                  "adresse de ent.test")


def test_unknown_local_address_is_refused_550_511(smtp):
    smtp.mail(JOSEPH)
    code, reply = smtp.rcpt("personne.inconnue@ent.test")
    assert code == 550 and text(reply).startswith("5.1.1")


def test_suspended_recipient_is_refused_550_521(smtp):
    suspended = new_account(Profile.STUDENT, group_of="zoe.le-gall", suspended=True)
    smtp.mail(JOSEPH)
    code, reply = smtp.rcpt(address_of(suspended))
    assert code == 550
    assert text(reply) == f"5.2.1 Le compte de {suspended.full_name} est suspendu"


def test_outside_sender_that_is_no_members_redirect_address_is_refused_with_spec_text(smtp):
    """SPEC §4: joseph.fabre registered joseph@example.org; another address of his is refused."""
    code, reply = smtp.mail("joseph.fabre@other.org")
    assert code == 550
    assert text(reply).startswith("5.7.1 joseph.fabre@other.org n'est pas l'adresse de "
                                  "redirection d'un membre")


def test_unverified_redirect_address_is_not_an_identity(smtp):
    pending = new_account(Profile.PARENT, parent_of="zoe.le-gall")
    pending.redirect_address = "pas.encore@example.com"
    db.session.commit()
    assert smtp.mail("pas.encore@example.com")[0] == 550


def test_suspended_author_is_refused(smtp):
    new_account(Profile.PARENT, redirect="suspendu@example.com", parent_of="zoe.le-gall",
                suspended=True)
    code, reply = smtp.mail("suspendu@example.com")
    assert code == 550 and "est suspendu" in text(reply)


def test_no_right_is_refused_per_recipient_and_the_others_still_get_the_message(smtp):
    stranger = new_account(Profile.STUDENT)          # in no class of Zoé's
    message = mail(JOSEPH, [ZOE, address_of(stranger)], "Pour la classe")
    smtp.mail(JOSEPH)
    assert smtp.rcpt(ZOE)[0] == 250
    code, reply = smtp.rcpt(address_of(stranger))
    assert code == 550
    assert text(reply) == (f"5.7.1 {stranger.full_name} n'est ni votre enfant ni dans la "
                           "classe de vos enfants")
    assert smtp.data(raw(message))[0] == 250
    stored = stored_with_id(message["Message-ID"])
    assert stored in inbox(account("zoe.le-gall"))
    assert inbox(stranger) == []


def test_full_mailbox_is_refused_452_422(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    store.system_folders([pupil.id], FolderKind.INBOX)
    store.reserve([pupil.id], current().quota_bytes, None)
    db.session.commit()
    smtp.mail(JOSEPH)
    code, reply = smtp.rcpt(address_of(pupil))
    assert code == 452
    assert text(reply) == f"4.2.2 La boite aux lettres de {pupil.full_name} est pleine"


def test_mailbox_filled_between_rcpt_and_data_answers_452_at_data(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    smtp.mail(JOSEPH)
    assert smtp.rcpt(address_of(pupil))[0] == 250
    store.system_folders([pupil.id], FolderKind.INBOX)
    store.reserve([pupil.id], current().quota_bytes - 10, None)
    db.session.commit()
    code, reply = smtp.data(raw(mail(JOSEPH, address_of(pupil))))
    assert code == 452 and text(reply).startswith("4.2.2")
    assert inbox(pupil) == []


def test_declared_size_over_the_quota_left_is_refused_at_rcpt(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    store.system_folders([pupil.id], FolderKind.INBOX)
    store.reserve([pupil.id], current().quota_bytes - 1000, None)
    db.session.commit()
    smtp.mail(JOSEPH, options=["SIZE=5000"])
    assert smtp.rcpt(address_of(pupil))[0] == 452


def test_declared_size_over_the_limit_is_refused_552_534(smtp):
    code, reply = smtp.mail(JOSEPH, options=[f"SIZE={21 * 1024 * 1024}"])
    assert code == 552 and text(reply).startswith("5.3.4")


def test_data_over_the_limit_is_refused_552_534(smtp):
    big = mail(JOSEPH, ZOE, "Trop gros", "x" * 70 + "\n")
    big.add_attachment(b"\0" * (16 * 1024 * 1024), maintype="application",
                       subtype="octet-stream", filename="gros.bin")
    smtp.mail(JOSEPH)
    smtp.rcpt(ZOE)
    code, reply = smtp.data(raw(big))
    assert code == 552 and text(reply).startswith("5.3.4")
    assert stored_with_id(big["Message-ID"]) is None


def test_51_recipients_are_refused_with_a_clear_reason_and_nothing_is_delivered(smtp):
    pupils = [new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(51)]
    message = mail(JOSEPH, ZOE, "À toute la classe")
    smtp.mail(JOSEPH)
    codes = [smtp.rcpt(address_of(p)) for p in pupils]
    assert [c for c, _ in codes[:50]] == [250] * 50
    code, reply = codes[50]
    assert code == 550      # permanent at RCPT: a 552 there may be read as 452 (RFC 5321)
    assert text(reply).startswith("5.5.3 Un message peut avoir au plus 50 destinataires")
    code, reply = smtp.data(raw(message))
    assert code == 552 and text(reply).startswith("5.5.3")
    assert stored_with_id(message["Message-ID"]) is None
    assert inbox(pupils[0]) == []


def test_one_address_named_60_times_is_one_recipient_and_gets_one_copy(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    message = mail(JOSEPH, address_of(pupil), "Soixante fois la même adresse")
    smtp.mail(JOSEPH)
    codes = [smtp.rcpt(address_of(pupil).upper() if n % 2 else address_of(pupil))[0]
             for n in range(60)]
    assert codes == [250] * 60
    assert smtp.data(raw(message))[0] == 250
    assert [m.message_id_header for m in inbox(pupil)] == [message["Message-ID"]]


def test_a_member_without_redirect_address_is_refused_550_516(smtp):
    teacher = new_account(Profile.TEACHER, group_of="zoe.le-gall")
    smtp.mail(JOSEPH)
    code, reply = smtp.rcpt(address_of(teacher))
    assert code == 550
    assert text(reply) == (f"5.1.6 {teacher.full_name} n'a pas d'adresse de redirection : le "
                           "message ne peut pas lui parvenir")


def test_replies_are_ascii_unless_the_client_asked_for_smtputf8(smtp):
    full = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    store.system_folders([full.id], FolderKind.INBOX)
    store.reserve([full.id], current().quota_bytes, None)
    db.session.commit()
    smtp.mail(JOSEPH)
    _, plain = smtp.rcpt(address_of(full))
    assert plain.isascii() and "La boite aux lettres" in text(plain)
    smtp.rset()
    smtp.mail(JOSEPH, options=["SMTPUTF8"])
    _, utf8 = smtp.rcpt(address_of(full))
    assert "La boîte aux lettres" in text(utf8)


def test_null_sender_may_only_write_to_bounce_addresses(smtp):
    assert smtp.mail("<>")[0] == 250
    code, reply = smtp.rcpt(ZOE)
    assert code == 550 and text(reply).startswith("5.7.1")


def test_malformed_mime_is_stored_as_received_with_a_notice(smtp):
    body = (b"From: joseph@example.org\r\nTo: zoe.le-gall@ent.test\r\nSubject: Cass\xe9\r\n"
            b"Message-ID: <malformed-1@example.org>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed\r\n\r\n--nowhere\r\nContent-Type: text/plain\r\n"
            b"\r\nle texte\r\n")
    smtp.mail(JOSEPH)
    smtp.rcpt(ZOE)
    code, _ = smtp.data(body)
    assert code == 250
    stored = stored_with_id("<malformed-1@example.org>")
    # As received; the reading page says it is malformed (from the flag).
    assert stored.malformed and stored.text_body.startswith("--nowhere\r\n")
    assert "le texte" in stored.text_body
    assert stored.source.endswith(b"--nowhere\r\nContent-Type: text/plain\r\n\r\nle texte\r\n")


def test_message_without_headers_or_body_is_stored(smtp):
    smtp.mail(JOSEPH)
    smtp.rcpt(ZOE)
    code, _ = smtp.data(b"")
    assert code == 250
