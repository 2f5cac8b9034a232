"""The plain address: `local@domain` in dot-atoms (RFC 5321), what nearly every address the
gateway reads and the worker writes looks like. Both handle it without the email package's
address parser, which costs 10 µs or more an address (it builds a class on each call); any
other address still goes through that parser."""
from __future__ import annotations

import re

ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = rf"{ATOM}(?:\.{ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN = re.compile(PLAIN_ADDRESS)


def is_plain(address: str) -> bool:
    return _PLAIN.fullmatch(address) is not None
