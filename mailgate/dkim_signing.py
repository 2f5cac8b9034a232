"""Optional DKIM signature of outgoing mail (PREAU_DKIM_KEY, PREAU_DKIM_SELECTOR).

The worker signs each message just before handing it to the relay, so that a parent's mail
provider can check that mail from @<domain> really left from Préau. The key is read and tried
once when the worker starts: a missing file or a key that cannot sign stops it with one French
line instead of failing on every message.
"""
from __future__ import annotations

import re
from pathlib import Path

import dkim

from directory.errors import InvalidInput

SIGNED_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to",
                  b"references", b"reply-to", b"mime-version", b"content-type")
_LINE_END = re.compile(rb"\r?\n")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


class Signer:
    """Prepends a DKIM-Signature (rsa-sha256, relaxed/relaxed) made with an RSA key in PEM."""

    def __init__(self, key_path: str, selector: str, domain: str):
        if not _SELECTOR.match(selector):
            raise InvalidInput(f"PREAU_DKIM_SELECTOR invalide : « {selector} » (lettres, "
                               "chiffres, points et tirets, par exemple « preau2026 »).")
        try:
            self.key = Path(key_path).read_bytes()
        except OSError as error:
            raise InvalidInput(f"PREAU_DKIM_KEY : impossible de lire la clé « {key_path} » "
                               f"({error.strerror}).") from None
        self.selector = selector.encode()
        self.domain = domain.encode()
        try:
            self.sign(b"From: test@" + self.domain + b"\r\nSubject: test\r\n\r\ntest\r\n")
        except (dkim.DKIMException, ValueError, IndexError, TypeError) as error:
            raise InvalidInput(f"PREAU_DKIM_KEY : « {key_path} » n'est pas une clé privée "
                               f"DKIM utilisable (PEM RSA attendu) : {error}") from None

    def sign(self, data: bytes) -> bytes:
        """The message with CRLF line ends (as sent over SMTP) and its signature on top."""
        data = _LINE_END.sub(b"\r\n", data)
        signature = dkim.sign(data, self.selector, self.domain, self.key,
                              canonicalize=(b"relaxed", b"relaxed"),
                              signature_algorithm=b"rsa-sha256",
                              include_headers=list(SIGNED_HEADERS))
        return signature + data


def from_settings(settings) -> Signer | None:
    """The worker's signer, or None when DKIM is not configured (both settings or neither)."""
    if not settings.dkim_key and not settings.dkim_selector:
        return None
    if not (settings.dkim_key and settings.dkim_selector):
        raise InvalidInput("DKIM : PREAU_DKIM_KEY et PREAU_DKIM_SELECTOR vont ensemble ; "
                           "définissez les deux ou aucun.")
    return Signer(settings.dkim_key, settings.dkim_selector, settings.domain)
