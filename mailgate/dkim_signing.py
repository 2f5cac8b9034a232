"""Optional DKIM signature of outgoing mail (PREAU_DKIM_KEY, PREAU_DKIM_SELECTOR).

The worker signs each message just before handing it to the relay, so that a parent's mail
provider can check that mail from @<domain> really left from Préau. The key is read and checked
once when the worker starts: a missing file or a key that is not an RSA private key stops it
with one French line instead of failing on every message.

The signature (RFC 6376: rsa-sha256, relaxed/relaxed) is put together here with dkimpy's
canonicalization, and made by OpenSSL (the `cryptography` package): dkimpy's own signing does
its RSA in Python, 10 ms of CPU a message on a slow machine where OpenSSL takes about one, and
every copy of a personalised mailing is a message of its own. dkimpy verifies what this makes
(tests/mailgate/test_dkim.py), as it verifies the signatures of incoming mail.
"""
from __future__ import annotations

import base64
import hashlib
import re
import time
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import Relaxed

from directory.errors import InvalidInput

SIGNED_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to",
                  b"references", b"reply-to", b"mime-version", b"content-type")
_LINE_END = re.compile(rb"\r?\n")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_FIELD = re.compile(rb"^([^:\s][^:]*):(.*)$", re.DOTALL)
_B64_LINE = 72
MIN_KEY_BITS = 1024         # RFC 8301: verifiers must refuse shorter keys


class Signer:
    """Prepends a DKIM-Signature (rsa-sha256, relaxed/relaxed) made with an RSA key in PEM."""

    def __init__(self, key_path: str, selector: str, domain: str):
        if not _SELECTOR.match(selector):
            raise InvalidInput(f"PREAU_DKIM_SELECTOR invalide : « {selector} » (lettres, "
                               "chiffres, points et tirets, par exemple « preau2026 »).")
        try:
            pem = Path(key_path).read_bytes()
        except OSError as error:
            raise InvalidInput(f"PREAU_DKIM_KEY : impossible de lire la clé « {key_path} » "
                               f"({error.strerror}).") from None
        try:
            self.key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise InvalidInput(f"PREAU_DKIM_KEY : « {key_path} » n'est pas une clé privée "
                               f"DKIM utilisable (PEM RSA attendu) : {error}") from None
        if not isinstance(self.key, rsa.RSAPrivateKey):
            raise InvalidInput(f"PREAU_DKIM_KEY : « {key_path} » n'est pas une clé privée "
                               "DKIM utilisable (PEM RSA attendu).")
        if self.key.key_size < MIN_KEY_BITS:
            raise InvalidInput(f"PREAU_DKIM_KEY : « {key_path} » est une clé RSA de "
                               f"{self.key.key_size} bits ; les messageries refusent les "
                               f"signatures de moins de {MIN_KEY_BITS} bits (2048 conseillés).")
        self.selector = selector.encode()
        self.domain = domain.encode()

    def sign(self, data: bytes) -> bytes:
        """The message with CRLF line ends (as sent over SMTP) and its signature on top."""
        data = _LINE_END.sub(b"\r\n", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"       # as SMTP will send it: the body is signed as it arrives
        header, _, body = data.partition(b"\r\n\r\n")
        body_hash = hashlib.sha256(Relaxed.canonicalize_body(body)).digest()
        fields = _fields(header)
        names = _oversigned(fields)
        tags = (b"v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + self.domain + b"; s="
                + self.selector + b"; t=" + str(int(time.time())).encode()
                + b";\r\n\th=" + b":".join(names)
                + b";\r\n\tbh=" + base64.b64encode(body_hash) + b";\r\n\tb=")
        digest = hashlib.sha256()
        for name, value in Relaxed.canonicalize_headers(_signed(fields, names)):
            digest.update(name + b":" + value)
        ((name, value),) = Relaxed.canonicalize_headers([(b"DKIM-Signature", b" " + tags)])
        digest.update(name + b":" + value.rstrip(b"\r\n"))    # the signature's own field
        signature = base64.b64encode(self.key.sign(digest.digest(), padding.PKCS1v15(),
                                                   Prehashed(hashes.SHA256())))
        folded = b"\r\n\t".join(signature[i:i + _B64_LINE]
                                 for i in range(0, len(signature), _B64_LINE))
        return b"DKIM-Signature: " + tags + folded + b"\r\n" + data


def _fields(header: bytes) -> list[tuple[bytes, bytes]]:
    """The header's fields as (name, value with its line ends), continuation lines joined."""
    fields: list[tuple[bytes, bytes]] = []
    for line in header.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + line + b"\r\n")
            continue
        match = _FIELD.match(line)
        if match:
            fields.append((match[1], match[2] + b"\r\n"))
    return fields


def _oversigned(fields: list[tuple[bytes, bytes]]) -> list[bytes]:
    """The h= tag's names: each of SIGNED_HEADERS once more than the message holds it
    (over-signing, dkimpy's `frozen_sign`, RFC 6376 8.15). The extra mention signs the
    field's absence above the ones present: a second Subject, To or From put on top of a
    signed message (most mail programs show the top one, a verifier picks from the bottom)
    breaks the signature, instead of passing with our domain's name on someone else's words.
    A name absent from the message is mentioned once, signed as absent: nobody can add it."""
    present = [name.lower().strip() for name, _ in fields]
    return [wanted for wanted in SIGNED_HEADERS for _ in range(present.count(wanted) + 1)]


def _signed(fields: list[tuple[bytes, bytes]],
            names: list[bytes]) -> list[tuple[bytes, bytes]]:
    """The fields `names` mentions, in its order; a name present several times takes its
    occurrences from the bottom up, one per mention (RFC 6376 5.4.2). A mention beyond the
    occurrences signs nothing but their number."""
    left = list(fields)
    chosen = []
    for wanted in names:
        for position in range(len(left) - 1, -1, -1):
            if left[position][0].lower().strip() == wanted:
                chosen.append(left.pop(position))
                break
    return chosen


def from_settings(settings) -> Signer | None:
    """The worker's signer, or None when DKIM is not configured (both settings or neither)."""
    if not settings.dkim_key and not settings.dkim_selector:
        return None
    if not (settings.dkim_key and settings.dkim_selector):
        raise InvalidInput("DKIM : PREAU_DKIM_KEY et PREAU_DKIM_SELECTOR vont ensemble ; "
                           "définissez les deux ou aucun.")
    return Signer(settings.dkim_key, settings.dkim_selector, settings.domain)
