"""Reading what spreadsheets write: encodings, separators, quotes, and files refused whole."""
import io
import zipfile

import pytest

from directory.account_file import FileRefused, read_account_file

from .account_files import excel_fr, utf8_bom_moodle


def test_excel_cp1252_semicolon_crlf_is_read_with_its_accents():
    data = excel_fr([["Lefèvre", "Zoé", "Élève", "4A", "", ""],
                     ["Œuvray", "Ange", "Enseignant", "", "ange@example.org", ""]])
    file = read_account_file(data)
    assert (file.encoding, file.separator) == ("cp1252", ";")
    assert [(r.last_name, r.first_name, r.profile, r.class_name) for r in file.rows] == [
        ("Lefèvre", "Zoé", "Élève", "4A"), ("Œuvray", "Ange", "Enseignant", "")]
    assert [r.line for r in file.rows] == [2, 3]


def test_utf8_bom_comma_moodle_headers():
    data = utf8_bom_moodle([["Durand", "Émile", "student", "4A", "", "E-1", "Latin"]])
    file = read_account_file(data)
    assert (file.encoding, file.separator) == ("utf-8-sig", ",")
    row = file.rows[0]
    assert (row.last_name, row.first_name, row.external_id, row.cohorts) == (
        "Durand", "Émile", "E-1", ["Latin"])


def test_quoted_newlines_blank_lines_and_case_of_headers():
    data = ('PRÉNOM,NOM,profil,Groupe1,groupe2,Commentaire\n\n'
            '"Léa","Du\nPont",élève,"Chorale, le jeudi",,"x"\n\n'
            'Marc,Petit,Eleve,,Théâtre,\n').encode()
    file = read_account_file(data)
    assert [(r.first_name, r.last_name, r.cohorts) for r in file.rows] == [
        ("Léa", "Du\nPont", ["Chorale, le jeudi"]), ("Marc", "Petit", ["Théâtre"])]
    assert [r.line for r in file.rows] == [3, 6]
    assert file.ignored_columns == ["Commentaire"]


def test_tab_separated():
    data = b"firstname\tlastname\tprofile\nAnna\tKarl\tteacher\n"
    file = read_account_file(data)
    assert file.separator == "\t" and file.rows[0].first_name == "Anna"


def _xlsx() -> bytes:
    """A spreadsheet's zip, the same bytes at every collection (its entry's date is fixed): the
    bytes are in the test's id, which must not differ between pytest-xdist workers."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("[Content_Types].xml", (2026, 1, 1, 0, 0, 0)), "<Types/>")
    return out.getvalue()


@pytest.mark.parametrize(("data", "code"), [
    (_xlsx(), "spreadsheet"),
    (b"", "empty"),
    (b"\r\n \r\n", "empty"),
    ("Nom;Prénom;Profil\r\n".encode("cp1252"), "no_rows"),
    (b"Nom;Profil\r\nDupont;Eleve\r\n", "missing_column"),
    (b"\x00\x01\x02binary", "not_text"),
])
def test_unreadable_files_are_refused_whole(data, code):
    with pytest.raises(FileRefused) as refused:
        read_account_file(data)
    assert refused.value.why.code == code
    if code == "missing_column":
        assert refused.value.why.params == {"column": "prénom"}


def test_excel_unicode_text_is_utf16_with_tabs():
    data = "Nom\tPrénom\tProfil\r\nŒuvray\tZoé\tÉlève\r\n".encode("utf-16")
    file = read_account_file(data)
    assert (file.encoding, file.separator) == ("utf-16", "\t")
    assert (file.rows[0].last_name, file.rows[0].first_name) == ("Œuvray", "Zoé")


def test_ragged_rows_are_read_with_empty_cells():
    file = read_account_file(b"Nom;Prenom;Profil;Classe\r\nDupont\r\nMartin;Ana;Eleve;4A;extra\r\n")
    assert [(r.last_name, r.first_name, r.profile) for r in file.rows] == [
        ("Dupont", "", ""), ("Martin", "Ana", "Eleve")]


def test_a_field_beyond_the_csv_limit_refuses_the_file():
    data = b'Nom;Prenom;Profil\r\n"' + b"x" * 200_000 + b'";A;Eleve\r\n'
    with pytest.raises(FileRefused) as refused:
        read_account_file(data)
    assert refused.value.why.code == "unreadable"
