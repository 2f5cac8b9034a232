"""The message a communication sends: the author's text with its merge fields as
placeholders, its signature already in the text, its attachments. Its To: names the audience
as the recipients may read it (`Communication.to_label`); {établissement} in a school's or a
group's communication is that school, whichever other school a recipient also belongs to."""
from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select

from directory.db import db
from directory.models import Account, School

from .. import fanout
from .merge import to_placeholders
from .models import Communication, CommunicationFile


def mail_of(communication: Communication, author: Account) -> EmailMessage:
    school = db.session.get(School, communication.school_id) if communication.school_id \
        else None
    mail = fanout.message(author, subject=communication.subject,
                          text=to_placeholders(communication.body, communication.portal_url,
                                               school=school.name if school else None) + "\n",
                          audience=communication.to_label)
    for attached in db.session.scalars(select(CommunicationFile).where(
            CommunicationFile.communication_id == communication.id)
            .order_by(CommunicationFile.id)):
        maintype, _, subtype = attached.content_type.partition("/")
        mail.add_attachment(attached.data, maintype=maintype or "application",
                            subtype=subtype or "octet-stream", filename=attached.filename)
    return mail
