"""A vCard file whose lines end with CR alone (classic Mac OS) reads as the same file with
CRLF: same cards, same line numbers in a refusal, the same people recognised on import."""
from __future__ import annotations

import io

import pytest

from portal.carnet.vcard import VCardError, read_cards
from tests.conftest import csrf_token

from .carnet_helpers import DATA, page, table_rows


def old_mac(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\r")


def test_cr_line_ends_read_as_crlf_ones():
    crlf = (DATA / "thunderbird-4.0.vcf").read_bytes()
    assert b"\r\n" in crlf
    cards = read_cards(old_mac(crlf))
    assert [(c.line, c.full_name, c.family, c.given) for c in cards] == [
        (1, "Claire Bernard", "Bernard", "Claire"),
        (12, "Pénélope Coste", "Coste", "Pénélope"),
        (21, "Geneviève De Oliveira", "De Oliveira", "Geneviève"),
        (29, "Mamie Jeanne", "Dubreuil", "Jeanne"),
        (37, "Édouard Masson", "Masson", "Édouard"),
    ]
    assert cards == read_cards(crlf)


def test_a_broken_file_with_cr_line_ends_names_its_line():
    with pytest.raises(VCardError) as refused:
        read_cards(old_mac((DATA / "broken-line-11.vcf").read_bytes()))
    assert refused.value.line == 11
    assert "mal formée" in refused.value.message


def test_a_cr_inside_a_value_of_a_crlf_file_stays_in_the_value():
    cards = read_cards(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zo\xc3\xa9\rLe Gall\r\n"
                       b"END:VCARD\r\n")
    assert [(c.line, c.full_name) for c in cards] == [(1, "Zoé Le Gall")]


def test_an_old_mac_file_is_imported(teacher):
    token = csrf_token(teacher.get("/carnet/importer").get_data(as_text=True))
    preview = teacher.post("/carnet/importer", content_type="multipart/form-data", data={
        "csrf_token": token, "target": "nouveau", "new_name": "Mac",
        "file": (io.BytesIO(old_mac((DATA / "thunderbird-4.0.vcf").read_bytes())),
                 "contacts.vcf")})
    assert preview.status_code == 200
    assert [r[:2] for r in table_rows(page(preview), "import-recognised")] == [
        ["1", "Claire Bernard"], ["12", "Pénélope Coste"], ["21", "Geneviève De Oliveira"],
        ["37", "Édouard Masson"]]
