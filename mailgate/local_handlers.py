"""Addresses of the portal's domain that are no one's mailbox but belong to another part of
the application, such as the agenda's answering addresses `agenda+<event>-<signature>@<domain>`
(an invitation's ORGANIZER, where mail clients send their METHOD:REPLY).

Those parts sit above the gateway (portal → agenda → mailgate), so the gateway cannot import
them: the application registers a `LocalHandler` per local-part prefix when it is created
(`register`), and the SMTP handler asks `find` for each RCPT TO before the members' routing.
Such mail is accepted only from a member (the envelope sender's usual identification), to an
address the handler recognises (`accepts`: signature checked, object still there — otherwise
550 5.1.1, as for any unknown address); at DATA the handler's `receive` runs in the
committer's transaction and answers None (done) or the reason of its refusal.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXTENSION = "mailgate.local_handlers"


@dataclass(frozen=True)
class LocalHandler:
    #: the local part before "+": "agenda" for agenda+…@domain
    prefix: str
    #: tag (what follows "+") → the object it names, or None; reads only
    accepts: Callable[[str], Any]
    #: (author Account, object, raw message) → None when done, else a French refusal reason;
    #: a module-level function: the shared writer (mailgate/shared_writer.py) receives it by name
    receive: Callable[[Any, Any, bytes], str | None]


def register(app, handler: LocalHandler) -> None:
    app.extensions.setdefault(EXTENSION, {})[handler.prefix] = handler


def find(app, address: str, domain: str) -> tuple[LocalHandler, str] | None:
    """The handler of `address` and its tag, if the address is one of them."""
    handlers = app.extensions.get(EXTENSION)
    if not handlers:
        return None
    local, _, address_domain = address.strip().strip("<>").rpartition("@")
    prefix, plus, tag = local.partition("+")
    if not plus or address_domain.lower() != domain:
        return None
    handler = handlers.get(prefix.lower())
    return (handler, tag) if handler is not None else None
