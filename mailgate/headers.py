"""The header block we store and forward: nothing that could show a redirect address.

Fields are kept from a short list (threading, MIME, subject, date, recipients…); everything
else — other servers' trace fields, Return-Path, Sender, Reply-To, DKIM signatures, vendor
fields — is dropped, since any of them may carry the member's private address. From is the
author's universal address; To, Cc and Disposition-Notification-To have every member's
redirect address replaced by that member's universal address, and every display name that
contains an address (as Outlook writes `"claire@example.net" <claire@example.net>`, plain or
RFC 2047 encoded) replaced by the member's name, or dropped for someone who is not a member:
the name could be anyone's redirect address. Bcc never reaches the stored header. Our own
Received field comes first, then our Authentication-Results (mailgate/sender_auth.py). A copy
forwarded to a member's own address may also have its subject tagged (`tagged_subject`); the
stored header keeps the subject as written.
"""
from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Mapping
from email.header import Header
from email.utils import formataddr, formatdate, getaddresses, parseaddr

from .mime import Field, Parsed, decode_name, one_line, split, unfold

# Our count of a message's passes through Préau: the trace fields that would count its hops
# are dropped (they may name a redirect address), so a redirection sending a member's mail
# back into Préau would loop forever without it (mailgate/inbound.py refuses the last pass).
PASSES = "X-Preau-Passes"
MAX_PASSES = 5


def passes(parsed: Parsed) -> int:
    """How many times the message has been through Préau already."""
    value = parsed.get(PASSES).strip()
    return int(value) if value.isascii() and value.isdecimal() and len(value) < 4 else 0


KEEP = frozenset({
    "date", "subject", "message-id", "in-reply-to", "references", "mime-version",
    "content-type", "content-transfer-encoding", "content-disposition", "content-language",
    "content-id", "content-description", "to", "cc", "importance", "priority", "x-priority",
    "thread-topic", "thread-index", "auto-submitted", "disposition-notification-to",
    "keywords", "comments", "user-agent", "x-mailer", "accept-language",
})
REWRITTEN = frozenset({"to", "cc", "disposition-notification-to"})
# Fields naming addresses that routing and storing read (`Parsed.addresses`): a message naming
# more than MAX_NAMED addresses in them is refused (mailgate/inbound.py) — the envelope allows
# 50 recipients, and reading tens of thousands of addresses would stall the shared commit.
NAMING = REWRITTEN | {"bcc"}
MAX_NAMED = 1000
_ADDRESS_LIKE = re.compile(r"[^\s<>@]@[^\s<>@]")


def new_message_id(domain: str) -> str:
    """A Message-ID for a message Préau writes: `<32 random hex digits@domain>`. Not the
    standard library's `make_msgid`, which writes the time to the centisecond and the id of
    the process (web or worker) into every message it names."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def field(name: str, value: str) -> Field:
    """A new field; non-ASCII values are expected to be RFC 2047 encoded already."""
    return Field(name, f"{name}: {value}\r\n".encode())


def outside_addresses(parsed: Parsed) -> set[str]:
    """Addresses of To, Cc, Disposition-Notification-To: the candidates for rewriting."""
    return {address.lower() for name in REWRITTEN for _, address in parsed.addresses(name)}


def may_name_too_many(parsed: Parsed) -> bool:
    """Whether the NAMING fields are long enough to name more than MAX_NAMED addresses (each
    takes a byte at least): ordinary mail is not read for it."""
    return sum(len(f.raw) for f in parsed.fields if f.key in NAMING) > MAX_NAMED


def named(parsed: Parsed) -> int:
    """How many addresses the NAMING fields name; read once, kept for routing."""
    return sum(len(parsed.addresses(name)) for name in NAMING)


def hides_address(display_name: str) -> bool:
    """A display name (decoded) that contains something shaped like an address."""
    return _ADDRESS_LIKE.search(display_name) is not None


def masked_addresses(parsed: Parsed, address_map: Mapping[str, str]) -> set[str]:
    """Addresses (rewritten, lower case) of To/Cc/Disposition-Notification-To entries whose
    display name must be replaced: whose members' names `stored_header` needs."""
    return {address_map.get(address.lower(), address).lower() for field_name in REWRITTEN
            for name, address in parsed.addresses(field_name) if hides_address(name)}


def shown(name: str, address: str, address_map: Mapping[str, str],
          names: Mapping[str, str]) -> tuple[str, str]:
    """One recipient as stored and shown: `name` decoded; `names`: universal address (lower
    case) → member's name, for the addresses `masked_addresses` gave. The name is on one
    line: a header we write holds no line break."""
    address = address_map.get(address.lower(), address)
    if hides_address(name):
        name = names.get(address.lower(), "")
    return (name if name.isprintable() else one_line(name)), address


def stored_header(parsed: Parsed, *, author_from: str | None, received: str | None,
                  address_map: dict[str, str], domain: str,
                  names: Mapping[str, str] | None = None,
                  authentication: str | None = None) -> tuple[bytes, str]:
    """The header block to store (CRLF, ends with the empty line) and the Message-ID.
    `names`: see `shown`; `authentication`: the value of our Authentication-Results."""
    out: list[Field] = []
    if received:
        out.append(field("Received", received))
    if authentication:
        out.append(field("Authentication-Results", authentication))
    if received:        # through SMTP: one more pass
        out.append(field(PASSES, str(passes(parsed) + 1)))
    if author_from:
        out.append(field("From", author_from))
    else:
        out += [f for f in parsed.fields if f.key == "from"][:1]
    message_id = ""
    for original in parsed.fields:
        if original.key not in KEEP:
            continue
        if original.key == "message-id":
            if message_id:
                continue
            message_id = original.value.strip()
        elif original.key == "disposition-notification-to" and author_from:
            # the receipt goes to the author's universal address, never to an address the
            # author typed: a recipient's mail program would send it from a private address
            out.append(field(original.name, parseaddr(author_from)[1]))
            continue
        out.append(_rewritten(original, address_map, names or {})
                   if original.key in REWRITTEN else original)
    if not message_id:
        message_id = new_message_id(domain)
        out.append(field("Message-ID", message_id))
    if not any(f.key == "date" for f in out):
        out.append(field("Date", date_now()))
    if parsed.top_marker is not None:
        out.append(parsed.top_marker)
    return b"".join(f.raw for f in out) + b"\r\n", message_id


def tagged_subject(data: bytes, tag: str) -> bytes:
    """The message `data` with its subject starting with `tag`, once. A subject that starts
    with it already is kept as it is; one that holds it elsewhere ("Re: [tag] …", or at the
    end of a subject too long to be read whole) has it moved in front, as Mailman moves its
    list prefix. Every Subject field is tagged (mail programs differ on which of two they
    show); a message without one gets the tag alone. The new subject is written RFC 2047
    encoded (the tag is not ASCII), folded; the rest of the message is left as it is."""
    fields, body = split(data)
    tagged = [_tagged(f, tag) if f.key == "subject" else f for f in fields]
    if not any(f.key == "subject" for f in fields):
        tagged.append(_encoded("Subject", tag))
    if tagged == fields:
        return data
    return b"".join(f.raw for f in tagged) + b"\r\n" + body


def _tagged(subject: Field, tag: str) -> Field:
    text = one_line(subject.value)
    if text.startswith(tag):
        return subject
    return _encoded(subject.name, f"{tag} {one_line(text.replace(tag, ' '))}".rstrip())


def _encoded(name: str, text: str) -> Field:
    value = Header(text, "utf-8", header_name=name).encode(linesep="\r\n")
    return Field(name, f"{name}: {value}\r\n".encode("ascii"))


def date_now() -> str:
    """The present time as a Date or Received field writes it (local time, to the second):
    made once a second rather than for every message (`formatdate` takes 12 µs)."""
    return _date_of(int(time.time()))


@functools.lru_cache(maxsize=1)
def _date_of(second: int) -> str:
    return formatdate(second, localtime=True)


def _rewritten(original: Field, address_map: Mapping[str, str],
               names: Mapping[str, str]) -> Field:
    value = unfold(original.raw.split(b":", 1)[1])
    pairs = [(decode_name(name), address) for name, address in getaddresses([value])
             if address]
    rewritten = [shown(name, address, address_map, names) for name, address in pairs]
    if rewritten == pairs:
        return original
    return field(original.name, ", ".join(_render(*pair) for pair in rewritten))


def _render(name: str, address: str) -> str:
    """formataddr, except that an address in UTF-8 (RFC 6532), which formataddr refuses, is
    written as it came. The name is written on one line, whatever it came from."""
    name = one_line(name)
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    return f"{formataddr((name, '@'), charset='utf-8').removesuffix(' <@>')} <{address}>" \
        if name else address


def author_from(full_name: str, address: str) -> str:
    return formataddr((full_name, address), charset="utf-8")
