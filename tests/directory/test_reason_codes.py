"""Every reason code the business packages give has its sentence in directory/wording.py,
and that sentence its English translation: a code without one would crash the page or the
SMTP reply that words it, and an English reader would read French."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from directory.wording import WORDING

ROOT = Path(__file__).resolve().parents[2]
BUSINESS = ("directory", "mailgate", "agenda")
CATALOG = ROOT / "portal/translations/en/LC_MESSAGES/messages.po"


def _code_of(call: ast.Call) -> str | None:
    """The literal code a call gives as a reason, if it is one: Reason("x", …),
    SomeError.of("x", …), FileRefused("x", …) or plan.error("x", …) of the import."""
    func = call.func
    named = (isinstance(func, ast.Name) and func.id in ("Reason", "FileRefused")) or \
        (isinstance(func, ast.Attribute) and func.attr == "of") or \
        (isinstance(func, ast.Attribute) and func.attr == "error"
         and isinstance(func.value, ast.Name) and func.value.id == "plan")
    if named and call.args and isinstance(call.args[0], ast.Constant) \
            and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _given_codes() -> dict[str, str]:
    codes = {}
    for package in BUSINESS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and (code := _code_of(node)):
                    codes.setdefault(code, f"{path.relative_to(ROOT)}:{node.lineno}")
    return codes


def test_the_scan_sees_the_import_and_routing_codes():
    codes = _given_codes()
    assert {"weak_password", "missing_column", "class_created", "too_many",
            "folder_missing"} <= set(codes)


def test_every_reason_code_given_has_a_sentence():
    missing = {code: where for code, where in _given_codes().items() if code not in WORDING}
    assert missing == {}


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)", text))


@pytest.mark.parametrize("code", sorted(WORDING))
def test_every_sentence_has_an_english_translation_with_the_same_parameters(code):
    english = {message.id: message.string for message in read_po(CATALOG.open("rb"))
               if message.id}
    french = WORDING[code]
    assert english.get(french), f"{code}: no English for « {french} »"
    assert _placeholders(english[french]) == _placeholders(french)
