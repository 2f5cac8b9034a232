"""The English catalog holds every French text the code marks for translation, translated: a
text missing from it shows in French to an English reader. `make translations` extracts the
texts with pybabel; a text it cannot see (a gettext call inside an f-string, which Python 3.11
tokenizes as one string) would never reach the catalog, so the Python sources are also read
here as Python reads them."""
from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "portal/translations/en/LC_MESSAGES/messages.po"
# As the Makefile's `translations` target: babel.cfg's files, these keywords.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "N_": None, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
MARKING = {"_", "gettext", "ngettext", "N_", "_l", "lazy_gettext", "lazy_ngettext"}


def _mapping() -> list[tuple[str, str]]:
    """babel.cfg's [method: pattern] sections."""
    sections = []
    for line in (ROOT / "babel.cfg").read_text().splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            method, _, pattern = line[1:-1].partition(":")
            sections.append((pattern.strip(), method.strip()))
    return sections


def _extracted() -> dict[str, str]:
    """msgid → where pybabel found it."""
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=_mapping(), keywords=KEYWORDS,
            options_map={pattern: {} for pattern, _ in _mapping()}):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _marked_in_python() -> dict[str, str]:
    """msgid → where: every literal given to a marking function in the Python files pybabel
    reads (babel.cfg), f-strings included."""
    found = {}
    for pattern, method in _mapping():
        if method != "python":
            continue
        for path in sorted(ROOT.glob(pattern.replace("**.", "**/*."))):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id in MARKING and node.args \
                        and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str):
                    found.setdefault(node.args[0].value,
                                     f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_text_marked_in_python_is_seen_by_the_extraction():
    extracted = _extracted()
    unseen = {text: where for text, where in _marked_in_python().items()
              if text not in extracted}
    assert unseen == {}


def test_every_extracted_text_is_translated_in_the_english_catalog():
    with CATALOG.open("rb") as file:
        catalog = read_po(file)
    translated = {msgid for message in catalog if message.id and all(
                      message.string if isinstance(message.string, tuple)
                      else (message.string,))
                  for msgid in (message.id if isinstance(message.id, tuple)
                                else (message.id,))}
    missing = {text: where for text, where in _extracted().items() if text not in translated}
    assert missing == {}
