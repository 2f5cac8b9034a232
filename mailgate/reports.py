"""Reports to an author about their message: a recipient it could not reach (no redirect
address, mailbox full) or a forward that failed for good (mailgate/failures.py: refused by
the relay, bounced by the destination, relay out of reach). Written in French, from
the portal's no-reply address, into the author's inbox or to their redirect address with a
null envelope sender (mailgate/worker.py), and never themselves reported on: a report that
cannot be delivered is dropped, so no loop can start.

What a remote server said is quoted as its words, cut short and marked as not ours: a forged
or hostile answer must not read as a message from Préau. Times are the readers' (PREAU_TIMEZONE)
and durations are written as people say them ("1 minute", "5 jours")."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage

from babel.units import format_unit

from directory.clock import local_time
from directory.enums import Role
from directory.models import Account

from . import headers, mime, queue, store
from .failures import Failure, FailureKind
from .models import EntryKind, FolderKind
from .settings import Settings, current


def no_reply(settings: Settings) -> str:
    return f"Préau <ne-pas-repondre@{settings.domain}>"


def build(*, to: str, subject: str, body: str, settings: Settings,
          in_reply_to: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = no_reply(settings)
    message["To"] = to
    message["Subject"] = headers.one_line(subject)
    message["Date"] = headers.date_now()
    message["Message-ID"] = headers.new_message_id(settings.domain)
    message["Auto-Submitted"] = "auto-replied"
    if in_reply_to:
        message["In-Reply-To"] = message["References"] = headers.one_line(in_reply_to)
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


def undeliverable(author: Account, subject: str | None, sent_at: datetime,
                  failures: Sequence[tuple[str, str]], *, in_reply_to: str = "",
                  others_received: bool = True) -> bool:
    """`failures`: (recipient as the author knows them, French reason) pairs. `subject`
    None: the message is no longer kept (a bounce coming back after nobody kept a copy),
    named by its date alone."""
    lines = "\n".join(f"  - {who} : {reason}" for who, reason in failures)
    title = subject or "(sans objet)"
    named = f"« {title} » " if subject is not None else ""
    body = (f"Bonjour {author.full_name},\n\n"
            f"Votre message {named}du {local_time(sent_at):%d/%m/%Y à %H:%M} n'a pas pu être "
            f"remis aux destinataires suivants :\n\n{lines}\n\n"
            + ("Les autres destinataires l'ont bien reçu.\n\n" if others_received else "")
            + "Ce message est envoyé automatiquement par Préau ; n'y répondez pas.\n")
    return send_report(author, f"Non remis : {title}" if subject is not None else "Non remis",
                       body, in_reply_to=in_reply_to)


def not_taken(author: Account, subject: str, reason: str) -> bool:
    """A message also sent to an address Préau handles itself (an agenda's answers) went
    to its other recipients, but that part was refused: the 250 could not say so."""
    title = subject or "(sans objet)"
    body = (f"Bonjour {author.full_name},\n\n"
            f"Votre message « {title} » a bien été remis à ses destinataires, mais sa partie "
            f"adressée à Préau n'a pas été prise en compte : {reason.rstrip('.')}.\n\n"
            "Ce message est envoyé automatiquement par Préau ; n'y répondez pas.\n")
    return send_report(author, f"Non pris en compte : {title}", body)


_WHAT = {
    FailureKind.REFUSED: "le serveur d'envoi a refusé le message",
    FailureKind.BOUNCED: "le serveur de messagerie du destinataire a refusé le message",
    FailureKind.UNREACHABLE: "le serveur d'envoi est resté injoignable pendant {lasted} : "
                             "le message n'a pas pu partir",
    FailureKind.DEFERRED: "le message n'a pas pu être remis pendant {lasted} : le serveur "
                          "d'envoi l'a refusé temporairement à chaque essai",
}
QUOTE_LIMIT = 200
_UNITS = ((86400, "duration-day"), (3600, "duration-hour"), (60, "duration-minute"),
          (1, "duration-second"))


def failure_reason(failure: Failure) -> str:
    """What happened, in our words, then the remote server's answer quoted as theirs."""
    what = _WHAT[failure.kind].format(lasted=duration_text(failure.lasted or timedelta()))
    text = "".join(c for c in " ".join(failure.remote.split()) if c.isprintable())
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT - 1] + "…"
    if not text:
        return what
    return (f"{what}.\n    Réponse de ce serveur, citée telle quelle (Préau n'en est pas "
            f"l'auteur) : « {text} »")


def duration_text(delta: timedelta) -> str:
    """'5 jours', '36 heures', '1 minute': in the largest unit that counts it exactly, so a
    setting reads back as it was written."""
    seconds = max(1, round(delta.total_seconds()))
    size, unit = next((size, unit) for size, unit in _UNITS if seconds % size == 0)
    return format_unit(seconds // size, unit, locale="fr", length="long")
