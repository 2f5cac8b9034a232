"""`preau import-users FILE --school UAI [--apply]`: a preview by default, the accounts with
--apply, nothing more on a second run; a file that cannot be read is one French line and
exit code 1, never a traceback."""
from __future__ import annotations

import pytest

from tests.directory.account_files import excel_fr
from tests.portal.test_cli import one_error_line, preau, query
from tests.portal.test_cli_import_ics import demo_env, live_database  # noqa: F401 (fixtures)

ROWS = [["Blondel", "Victor", "Élève", "4A", "", ""],
        ["Blondel", "Véra", "Parent", "", "vera@example.org", ""],
        ["Sans", "Profil", "Chef", "", "", ""]]


def test_preview_then_apply_then_nothing_to_do(demo_env, tmp_path, live_database):  # noqa: F811
    env, url = demo_env
    file = tmp_path / "eleves.csv"
    file.write_bytes(excel_fr(ROWS))
    preview = preau(env, "import-users", str(file), "--school", "0310024H")
    assert preview.exit_code == 0, preview.output
    assert "création" in preview.output and "→ 0310024h.v.blondel" in preview.output
    assert "profil inconnu « Chef »" in preview.output
    assert "Rien n'est enregistré" in preview.output
    assert query(url, "SELECT COUNT(*) FROM account WHERE login LIKE '0310024h.%'") == [(0,)]
    applied = preau(env, "import-users", str(file), "--school", "0310024H", "--apply")
    assert applied.exit_code == 0, applied.output
    assert "2 créés, 0 modifiés, 1 ligne en erreur non importée." in applied.output
    assert sorted(query(url, "SELECT login FROM account WHERE login LIKE '0310024h.%'")) == [
        ("0310024h.v.blondel",), ("0310024h.v.blondel2",)]
    # Véra's generated password leaves by mail; Victor awaits his printable sheet
    assert query(url, "SELECT address FROM outbound_entry WHERE address = 'vera@example.org'")
    again = preau(env, "import-users", str(file), "--school", "0310024H", "--apply")
    assert "0 créés, 0 modifiés" in again.output


@pytest.mark.parametrize(("content", "school", "expected"), [
    (b"PK\x03\x04 not really a workbook", "0310024H", "pas un fichier CSV"),
    (b"", "0310024H", "Le fichier est vide."),
    ("Nom;Prénom;Profil\r\n".encode("cp1252"), "0310024H", "ne contient que la ligne d'en-tête"),
    (b"Nom;Profil\r\nDupont;Eleve\r\n", "0310024H",
     "La colonne obligatoire « prénom » manque"),
    (excel_fr(ROWS), "9999999Z", "Établissement inconnu : 9999999Z."),
    (None, "0310024H", "Fichier introuvable"),
])
def test_refusals_are_one_french_line(demo_env, tmp_path, content, school, expected,  # noqa: F811
                                      live_database):  # noqa: F811
    env, _ = demo_env
    file = tmp_path / "comptes.csv"
    if content is not None:
        file.write_bytes(content)
    result = preau(env, "import-users", str(file), "--school", school)
    assert result.exit_code == 1
    assert expected in one_error_line(result)
