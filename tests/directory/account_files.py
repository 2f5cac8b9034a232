"""Account files as spreadsheets write them, built in the tests (SPEC §8 import)."""
from __future__ import annotations


def excel_fr(rows: list[list[str]], header=("Nom", "Prénom", "Profil", "Classe", "Courriel",
                                              "Mot de passe")) -> bytes:
    """Excel on a French Windows: cp1252, `;`, CRLF."""
    lines = [";".join(header)] + [";".join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def utf8_bom_moodle(rows: list[list[str]],
                    header=("lastname", "firstname", "profile", "class", "email", "idnumber",
                            "cohort1")) -> bytes:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")
