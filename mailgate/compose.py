"""Building the message of the web compose form, for `routing.route` (issue 6 uses it)."""
from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr

from directory.models import Account

from .headers import date_now, new_message_id, one_line
from .settings import current


def compose(author: Account, *, to: Sequence[Account] = (), cc: Sequence[Account] = (),
            bcc: Sequence[Account] = (), subject: str = "", text: str = "",
            html: str | None = None,
            attachments: Sequence[tuple[str, str, bytes]] = (),
            in_reply_to: str = "", references: str = "",
            read_receipt: bool = False) -> EmailMessage:
    """`attachments`: (filename, content type, data). Addresses are universal addresses only;
    Bcc is kept for the author's copy and removed from everyone else's by `route`."""
    settings = current()

    def addresses(people: Sequence[Account]) -> str:
        return ", ".join(formataddr((p.full_name, settings.universal(p.address)),
                                    charset="utf-8") for p in people)

    message = EmailMessage()
    message["From"] = formataddr((author.full_name, settings.universal(author.address)),
                                 charset="utf-8")
    for name, people in (("To", to), ("Cc", cc), ("Bcc", bcc)):
        if people:
            message[name] = addresses(people)
    message["Subject"] = one_line(subject)
    message["Date"] = date_now()
    message["Message-ID"] = new_message_id(settings.domain)
    if in_reply_to:
        message["In-Reply-To"] = one_line(in_reply_to)
        message["References"] = one_line(references + " " + in_reply_to).strip()
    if read_receipt:
        message["Disposition-Notification-To"] = settings.universal(author.address)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype or "application",
                               subtype=subtype or "octet-stream", filename=filename)
    return message
