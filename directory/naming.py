"""Folding names into universal addresses, logins and search keys (SPEC §1, §8)."""
from __future__ import annotations

import functools
import re
import unicodedata

# Letters that NFKD does not split into a base letter and an accent.
_SPECIAL = str.maketrans({
    "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o", "ß": "ss",
    "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "þ": "th", "Þ": "th", "ð": "d", "Ð": "d",
    "ı": "i",
})


def fold(text: str) -> str:
    """Lower case ASCII without accents: 'Zoé Le Gall' → 'zoe le gall'.

    The rule: the letters of _SPECIAL spelt out, then the compatibility decomposition (NFKD)
    without its combining marks, then lower case. Decomposition works character by character
    (NFKD's reordering only moves combining marks, which are dropped), so each distinct
    character is folded once (`_folded_char`) and replaced throughout: 10 KB of French text
    in ~0.1 ms instead of ~0.8 ms for a loop over every character."""
    if text.isascii():
        return text.lower()
    table = {}
    for char in set(text):
        if not char.isascii():
            folded = _folded_char(char)
            if folded != char:
                table[char] = folded
    if all(folded.isascii() for folded in table.values()):
        for char, folded in table.items():    # no result is replaced again: all ASCII
            text = text.replace(char, folded)
    else:       # e.g. 'ǽ' → 'æ', itself folded when written as such: one pass
        text = text.translate({ord(char): folded for char, folded in table.items()})
    return text.lower()


@functools.lru_cache(maxsize=4096)
def _folded_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char.translate(_SPECIAL))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def collation_key(text: str) -> tuple[str, str, str]:
    """Sort words the French way, as ICU does at its first levels: letters before accents
    before case — « EPS », « éducation musicale », « français » — where a plain sort puts
    every capital first and every accented initial last. For short lists sorted in Python;
    long lists are sorted in SQL by the folded columns (`search_name`)."""
    return fold(text), text.casefold(), text


def _part(text: str) -> str:
    """One name as an address part: apostrophes dropped, spaces and hyphens → '-'."""
    text = fold(text)
    text = re.sub(r"['’`´]", "", text)
    text = re.sub(r"[^a-z0-9]+", "-", text)
    return text.strip("-")


# A mail local part may have 64 characters (RFC 5321); room is kept for a collision number.
MAX_BASE = 56


def address_base(first_name: str, last_name: str) -> str:
    """The wished-for local part, before collisions: 'zoe.le-gall'.

    Very long names are shortened, the first name first, so the address stays a valid local
    part whatever number a collision appends.
    """
    first, last = _part(first_name), _part(last_name)
    if len(first) + len(last) + 1 > MAX_BASE:
        first = first[:max(MAX_BASE - 1 - len(last), MAX_BASE // 2 - 1)].rstrip("-")
        last = last[:MAX_BASE - 1 - len(first)].rstrip("-")
    base = ".".join(p for p in (first, last) if p)
    return base or "utilisateur"


def with_suffix(base: str, n: int) -> str:
    return base if n <= 1 else f"{base}{n}"


def search_key(first_name: str, last_name: str) -> tuple[str, str]:
    """(last first, first) folded with single spaces, for prefix searches and sorting."""
    def norm(s: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(s)).split())

    return f"{norm(last_name)} {norm(first_name)}".strip(), norm(first_name)


def login_for(pattern: str, uai: str, first_name: str, last_name: str) -> str:
    """The login a school's nomenclature gives, e.g. '0310024h.v.blondel'."""
    first, last = _part(first_name), _part(last_name)
    return pattern.format(uai=uai.lower(), f=first[:1] or "x", first=first, last=last)
