"""The vCard format alone: reading real exports (folded lines, accents, a UTF-8 character cut
by a fold), refusing broken files with the line at fault, writing 3.0 and 4.0."""
from __future__ import annotations

import pytest

from directory.errors import InvalidInput
from portal.carnet.vcard import MAX_CARDS, Card, Entry, VCardError, read_cards, write_cards

from .carnet_helpers import DATA


def test_a_thunderbird_4_0_export_reads_with_accents_and_folded_lines():
    cards = read_cards((DATA / "thunderbird-4.0.vcf").read_bytes())
    assert [(c.line, c.full_name, c.family, c.given) for c in cards] == [
        (1, "Claire Bernard", "Bernard", "Claire"),
        (12, "Pénélope Coste", "Coste", "Pénélope"),       # FN folded inside a word
        (21, "Geneviève De Oliveira", "De Oliveira", "Geneviève"),  # fold cuts "è" in two
        (29, "Mamie Jeanne", "Dubreuil", "Jeanne"),
        (37, "Édouard Masson", "Masson", "Édouard"),
    ]
    assert cards[4].emails == ["Edouard.Masson@ENT.TEST", "edouard.masson@orange.fr"]
    assert all(c.categories == [] for c in cards)


def test_a_google_contacts_3_0_export_reads_without_google_system_labels():
    cards = read_cards((DATA / "google-contacts-3.0.vcf").read_bytes())
    assert [c.full_name for c in cards] == ["Zoé Le Gall", "Michel Rivière", "Lucas Martin",
                                            "Théodore Royer", "plombier@example.fr"]
    assert [c.categories for c in cards] == [["Délégués 4A"], ["Délégués 4A"], [],
                                             ["Délégués 4A"], []]
    assert cards[2].emails == ["lucas.martin@ent.test"]      # a grouped item1.EMAIL
    assert (cards[4].family, cards[4].given) == ("", "")


@pytest.mark.parametrize("data, line, words", [
    ((DATA / "broken-line-11.vcf").read_bytes(), 11, "mal formée"),
    ((DATA / "unclosed-line-6.vcf").read_bytes(), 6, "END:VCARD manquant"),
    (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\nFN:B\r\n", 5, "en dehors d'une fiche"),
    (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", 1, "pas un carnet"),
    (b"", 1, "aucune fiche"),
    (b"Nom;Adresse\r\nZo\xc3\xa9;zoe@ent.test\r\n", 1, "en dehors d'une fiche"),
    (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:\x81\x8d\r\n"
     b"END:VCARD\r\n", 6, "UTF-8"),
    (b"BEGIN:VCARD\nVERSION:3.0\nFN:A\n BC\nBEGIN:VCARD\nEND:VCARD\n", 1, "END:VCARD manquant"),
])
def test_a_broken_file_is_refused_with_the_line_at_fault(data, line, words):
    with pytest.raises(VCardError) as refused:
        read_cards(data)
    assert refused.value.line == line
    assert refused.value.message.startswith(f"Ligne {line} : ")
    assert words in refused.value.message


def test_more_than_max_cards_is_refused_at_the_first_card_too_many():
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n"
    assert len(read_cards(card * MAX_CARDS)) == MAX_CARDS
    with pytest.raises(VCardError) as refused:
        read_cards(card * (MAX_CARDS + 1))
    assert refused.value.line == 4 * MAX_CARDS + 1
    assert "plus de 5000 fiches" in refused.value.message


def test_a_windows_1252_file_is_read():
    data = ("BEGIN:VCARD\r\nVERSION:2.1\r\nN:Rivière;Michel\r\nFN:Michel Rivière\r\n"
            "END:VCARD\r\n").encode("cp1252")
    assert read_cards(data)[0].full_name == "Michel Rivière"


def test_a_byte_order_mark_and_bare_newlines_are_accepted():
    data = "\ufeffBEGIN:VCARD\nVERSION:3.0\nFN:Zoé Le Gall\nEND:VCARD\n".encode()
    assert read_cards(data)[0].full_name == "Zoé Le Gall"


ENTRIES = [
    Entry(full_name="Geneviève De Oliveira", family="De Oliveira", given="Geneviève",
          email="genevieve.de-oliveira@ent.test",
          organisations=["Collège Jean Jaurès", "Lycée De Oliveira"],
          categories=["Délégués, 4A; parents", "Conseil d'administration du collège Jean "
                      "Jaurès (titulaires et suppléants)"]),
    Entry(full_name="Zoé Le Gall", family="Le Gall", given="Zoé",
          email="zoe.le-gall@ent.test", organisations=["Collège Jean Jaurès"],
          categories=["Élèves"]),
]


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_written_cards_read_back_the_same(version):
    text = write_cards(ENTRIES, version)
    lines = text.split("\r\n")
    assert lines[:2] == ["BEGIN:VCARD", f"VERSION:{version}"]
    assert all(len(line.encode()) <= 75 for line in lines), "lines are folded at 75 octets"
    assert any(line.startswith(" ") for line in lines), "the long CATEGORIES line is folded"
    cards = read_cards(text.encode())
    assert [(c.full_name, c.family, c.given, c.emails, c.categories) for c in cards] == [
        (e.full_name, e.family, e.given, [e.email], e.categories) for e in ENTRIES]
    assert ("EMAIL;TYPE=INTERNET:" in text) == (version == "3.0")
    assert text.count("ORG:") == 3
    assert write_cards(ENTRIES, version) == text, "the same book gives the same file"


def test_only_versions_3_and_4_are_written():
    with pytest.raises(InvalidInput, match="3.0 ou 4.0"):
        write_cards(ENTRIES, "2.1")


def test_a_card_is_labelled_by_name_else_address_else_line():
    assert Card(line=3, given="Zoé", family="Le Gall").label == "Zoé Le Gall"
    assert Card(line=3, emails=["a@b.fr"]).label == "a@b.fr"
    assert Card(line=3).label == "Fiche de la ligne 3"
