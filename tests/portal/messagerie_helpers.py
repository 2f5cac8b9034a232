"""What the Messagerie tests share: putting a message in mailboxes through the real routing
(as the SMTP gateway or the compose form would), finding items, and the compose form as a
browser posts it."""
from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select

from directory.db import db
from directory.models import Account
from mailgate import routing
from mailgate.models import FolderKind, Mailbox, MailboxItem, MailFolder, MailMessage
from tests.conftest import csrf_token

from .carnet_helpers import page

DOMAIN = "ent.test"


def account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def message(author: str, to: list[str], subject: str, body: str = "Bonjour.", *,
            html: str | None = None, files: tuple = (), headers: dict | None = None
            ) -> EmailMessage:
    """A message as a mail client writes it."""
    mail = EmailMessage()
    mail["From"] = f"{author}@{DOMAIN}"
    mail["To"] = ", ".join(f"{login}@{DOMAIN}" for login in to)
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain="example.org")
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(body)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    for filename, content_type, data in files:
        maintype, _, subtype = content_type.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mail


def deliver(app, author: str, to: list[str], subject: str, body: str = "Bonjour.", **kwargs
            ) -> routing.RoutingResult:
    """Route a message through the one routing path and commit, as the gateway does."""
    with app.app_context():
        writer = account(author)
        result = routing.route(writer, [account(login).id for login in to],
                               message(author, to, subject, body, **kwargs))
        db.session.commit()
        assert all(r.accepted for r in result.recipients), result
        return result


def items(app, login: str, kind: FolderKind | None = None, folder: str | None = None
          ) -> list[tuple[int, str, bool]]:
    """(item id, subject, read) of a mailbox's folder, newest first."""
    with app.app_context():
        query = (select(MailboxItem.id, MailMessage.subject, MailboxItem.is_read)
                 .join(MailMessage, MailMessage.id == MailboxItem.message_id)
                 .join(MailFolder, MailFolder.id == MailboxItem.folder_id)
                 .join(Account, Account.id == MailboxItem.account_id)
                 .where(Account.login == login)
                 .order_by(MailboxItem.received_at.desc(), MailboxItem.id.desc()))
        if kind is not None:
            query = query.where(MailFolder.kind == kind)
        if folder is not None:
            query = query.where(MailFolder.name == folder)
        return [tuple(row) for row in db.session.execute(query)]


def item_id(app, login: str, subject: str, kind: FolderKind = FolderKind.INBOX) -> int:
    found = [i for i, s, _ in items(app, login, kind) if s == subject]
    assert found, f"no « {subject} » in {login}'s {kind}"
    return found[0]


def folder_id(app, login: str, kind: FolderKind, name: str | None = None) -> int:
    with app.app_context():
        query = (select(MailFolder.id).join(Account, Account.id == MailFolder.account_id)
                 .where(Account.login == login, MailFolder.kind == kind))
        if name is not None:
            query = query.where(MailFolder.name == name)
        return db.session.scalar(query)


def used_bytes(app, login: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Mailbox.used_bytes).join(
            Account, Account.id == Mailbox.account_id).where(Account.login == login)) or 0


def person(app, login: str) -> int:
    with app.app_context():
        return account(login).id


def compose_post(client, data: dict, *, page_url: str = "/messagerie/ecrire", files=None):
    """Post the compose form as a browser does (token from the page, files as uploads)."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    payload = {"csrf_token": token, "action": "envoyer", "copy": "y", **data}
    if files:
        payload["files"] = files
    return client.post("/messagerie/ecrire", data=payload, content_type="multipart/form-data")


def result_rows(client) -> list[list[str]]:
    doc = page(client.get("/messagerie/envoye"))
    table = doc.find("table", class_="send-result")
    return [[cell.text for cell in row.find_all("td")]
            for row in table.find("tbody").find_all("tr")]


def flashes(response_or_client) -> list[str]:
    doc = page(response_or_client)
    return [p.text for p in doc.find_all("p", class_="flash")]


def selection(client, ids: list[int], action: str, retour: str = "/messagerie/", **extra):
    token = csrf_token(client.get("/messagerie/").get_data(as_text=True))
    return client.post("/messagerie/selection", data={
        "csrf_token": token, "action": action, "item": [str(i) for i in ids],
        "retour": retour, **extra})


def ids_in(html: str, pattern: str = r"/messagerie/message/(\d+)") -> list[int]:
    return [int(n) for n in re.findall(pattern, html)]
