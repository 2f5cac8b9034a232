"""Reports to an author about their message: a recipient it could not reach (no redirect
address, mailbox full) or a forward that failed for good (a bounce). Written in French, from
the portal's no-reply address, into the author's inbox or to their redirect address with a
null envelope sender (mailgate/worker.py), and never themselves reported on: a report that
cannot be delivered is dropped, so no loop can start."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from directory.enums import Role
from directory.models import Account

from . import headers, mime, queue, store
from .models import EntryKind, FolderKind
from .settings import Settings, current


def no_reply(settings: Settings) -> str:
    return f"Préau <ne-pas-repondre@{settings.domain}>"


def build(*, to: str, subject: str, body: str, settings: Settings,
          in_reply_to: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = no_reply(settings)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.domain)
    message["Auto-Submitted"] = "auto-replied"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message


def send_report(author: Account, subject: str, body: str, *, in_reply_to: str = "") -> bool:
    """Store the report and put it where the author reads mail. False when the author has
    neither an internal mailbox nor a verified redirect address (the web form tells them)."""
    settings = current()
    internal = author.has_role(Role.INTERNAL_MAIL)
    if not internal and not author.verified_redirect:
        return False
    message = build(to=settings.universal(author.address), subject=subject, body=body,
                    settings=settings, in_reply_to=in_reply_to)
    parsed = mime.parse(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    block, message_id = headers.stored_header(parsed, author_from=None, received=None,
                                              address_map={}, domain=settings.domain)
    stored = store.save_message(parsed, block, message_id=message_id, author_id=None,
                                automatic=True)
    if internal:
        inbox = store.system_folders([author.id], FolderKind.INBOX)[author.id]
        store.reserve([author.id], parsed.size, None)
        store.add_items(stored, parsed.size, [(author.id, inbox)])
    else:
        queue.enqueue([{"kind": EntryKind.REPORT, "message_id": stored, "account_id": author.id,
                        "author_id": None, "address": author.verified_redirect}],
                      lifetime=settings.queue_lifetime)
    return True


def undeliverable(author: Account, subject: str, sent_at: datetime,
                  failures: Sequence[tuple[str, str]], *, in_reply_to: str = "",
                  others_received: bool = True) -> bool:
    """`failures`: (recipient as the author knows them, French reason) pairs."""
    lines = "\n".join(f"  - {who} : {reason}" for who, reason in failures)
    title = subject or "(sans objet)"
    body = (f"Bonjour {author.full_name},\n\n"
            f"Votre message « {title} » du {sent_at:%d/%m/%Y à %H:%M} (UTC) n'a pas pu être "
            f"remis aux destinataires suivants :\n\n{lines}\n\n"
            + ("Les autres destinataires l'ont bien reçu.\n\n" if others_received else "")
            + "Ce message est envoyé automatiquement par Préau ; n'y répondez pas.\n")
    return send_report(author, f"Non remis : {title}", body, in_reply_to=in_reply_to)

