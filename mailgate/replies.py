"""Every SMTP reply of the gateway in one table, so the handler, the tests and the docs read
them from one place. Texts are French; `for_client` folds them to ASCII unless the client
asked for SMTPUTF8 (RFC 6531: replies are ASCII otherwise)."""
from __future__ import annotations

import unicodedata

from directory.wording import Reason

from .headers import one_line
from .routing import Refusal

REFUSALS = {
    Refusal.NOT_LOCAL: "550 5.7.1",
    Refusal.UNKNOWN: "550 5.1.1",
    Refusal.SUSPENDED: "550 5.2.1",
    Refusal.NOT_ALLOWED: "550 5.7.1",
    Refusal.NO_REDIRECT: "550 5.1.6",
    Refusal.MAILBOX_FULL: "452 4.2.2",
    Refusal.TOO_MANY: "552 5.5.3",
    Refusal.TOO_LARGE: "552 5.3.4",
}
# At RCPT the over-limit refusal is 550, not 552: RFC 5321 §4.5.3.1.10 lets a client read a
# 552 to RCPT as a 452 and send the recipients past the limit later in another transaction
# (the limit is all or nothing: the message goes to none of them). Same words.
RCPT_REFUSALS = {**REFUSALS, Refusal.TOO_MANY: "550 5.5.3"}
# Refusals of an account that exists: their reasons name the member and tell their state
# (suspended, no e-mail, a pupil's full mailbox, whom the author may write to). A client that
# has not shown it speaks for the author (mailgate/inbound.py `Inbound._proven`) is told only
# the address it typed, with one code for all but the full mailbox (temporary: 452 kept).
NAMING = frozenset({Refusal.SUSPENDED, Refusal.NOT_ALLOWED, Refusal.NO_REDIRECT,
                    Refusal.MAILBOX_FULL})
RECIPIENT_REFUSED = "550 5.7.1 {address} ne peut pas recevoir ce message"
RECIPIENT_FULL = "452 4.2.2 La boîte aux lettres de {address} est pleine"

SENDER_OK = "250 2.1.0 Expéditeur accepté"
RECIPIENT_OK = "250 2.1.5 Destinataire accepté"
STORED = "250 2.0.0 Message enregistré"
# SPEC §4: "… is not the redirect address of a member".
NOT_A_MEMBER = ("550 5.7.1 {sender} n'est pas l'adresse de redirection d'un membre : "
                "seuls les membres peuvent écrire à Préau, depuis l'adresse de redirection "
                "vérifiée dans leurs Préférences")
# Not named: MAIL FROM is answered before any check of the sender, to anyone (SPEC §4:
# redirect addresses are private).
AUTHOR_SUSPENDED = "550 5.7.1 Ce compte est suspendu : il ne peut pas envoyer de message"
# mailgate/inbound.py: RCPT commands past MAX_RCPT_COMMANDS in one transaction.
TOO_MANY_COMMANDS = ("452 4.5.3 Trop de commandes RCPT dans ce message : {limit} au plus, "
                     "envoyez la suite dans un autre message")
NULL_SENDER_ONLY_BOUNCES = ("550 5.7.1 Sans expéditeur, seuls les avis de non-remise de Préau "
                            "sont acceptés")
TOO_LARGE = "552 5.3.4 Message trop volumineux : {mb} Mo au plus"
TEMPORARY = "451 4.3.0 Erreur temporaire de la passerelle, réessayez plus tard"
BOUNCE_ACCEPTED = "250 2.0.0 Avis de non-remise reçu"
# mailgate/sender_auth.py, under PREAU_SENDER_AUTH=enforce.
SENDER_NOT_AUTHENTICATED = ("550 5.7.26 Expéditeur non authentifié : ni SPF ni une signature "
                            "DKIM de {domain} ne confirment que ce message en vient ({summary})")
SENDER_CHECK_UNAVAILABLE = ("451 4.7.0 L'expéditeur ne peut pas être vérifié pour le moment "
                            "(serveur DNS sans réponse), réessayez plus tard")
# Permanent problems of the message or the command itself: retrying cannot help.
UNREADABLE_MESSAGE = ("554 5.6.0 Message illisible : sa structure MIME est trop imbriquée "
                      "ou corrompue")
LOOP = ("554 5.4.6 Boucle de messagerie : ce message est déjà passé {passes} fois par Préau "
        "(une redirection renvoie-t-elle le courrier vers Préau ?)")
BAD_ADDRESS = "501 5.1.3 Adresse illisible : elle doit être écrite en ASCII ou en UTF-8"
TOO_MANY_NAMED = ("552 5.5.3 L'en-tête du message nomme trop d'adresses : {count}, pour "
                  "{limit} au plus")
HANDLED = "250 2.0.0 Message traité"
HANDLER_REFUSED = "550 5.7.1 {reason}"


def refusal(code: Refusal, reason: str | Reason | None) -> str:
    """The reply for a refusal and its reason, in French (directory/wording.py)."""
    return f"{REFUSALS[code]} {one_line(str(reason or ''))}".rstrip()


def recipient_refusal(code: Refusal, reason: str | Reason | None, address: str, *,
                      proven: bool, at_data: bool = False) -> str:
    """The reply refusing the recipient `address` (as the client typed it) at RCPT, or at
    DATA; `proven`: the client is known to speak for the author (trusted network, SPF, DKIM),
    who may read why. Otherwise an account's refusal names only `address`."""
    if not proven and code in NAMING:
        words = RECIPIENT_FULL if code == Refusal.MAILBOX_FULL else RECIPIENT_REFUSED
        return words.format(address=one_line(address.strip("<> ")))
    if at_data:
        return refusal(code, reason)
    return f"{RCPT_REFUSALS[code]} {one_line(str(reason or ''))}".rstrip()


def for_client(reply: str, smtputf8: bool) -> str:
    if smtputf8:
        return reply
    reply = reply.replace("«", '"').replace("»", '"').replace("’", "'")
    return unicodedata.normalize("NFKD", reply).encode("ascii", "ignore").decode("ascii")
