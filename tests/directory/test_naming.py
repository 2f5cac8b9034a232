"""Universal addresses (SPEC §1): folding of hard names, collisions, never reused."""
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from directory import naming
from directory.accounts import create_account, school_by_uai
from directory.addresses import allocate_address
from directory.db import db
from directory.enums import Profile
from directory.models import Account, AllocatedAddress
from directory.naming import address_base, collation_key

# (first name, last name, the address local part it must fold to)
HARD_NAMES = [
    ("Zoé", "Le Gall", "zoe.le-gall"),
    ("Élise", "N'Diaye", "elise.ndiaye"),
    ("Élise", "N’Diaye", "elise.ndiaye"),  # typographic apostrophe
    ("Jean-Baptiste", "de La Tour", "jean-baptiste.de-la-tour"),
    ("Ævar", "Ødegård", "aevar.odegard"),
    ("Łukasz", "Straße", "lukasz.strasse"),
    ("Marie  Hélène", "Saint  Exupéry", "marie-helene.saint-exupery"),  # two spaces
    ("", "Lefèvre-Ünal", "lefevre-unal"),  # empty first name
    ("  Anaïs ", " Ó Súilleabháin  ", "anais.o-suilleabhain"),  # leading/trailing spaces
    ("Jean - Pierre", "Kerguélen--Roux", "jean-pierre.kerguelen-roux"),  # runs of separators
]


@pytest.mark.parametrize(("first", "last", "expected"), HARD_NAMES)
def test_hard_names_fold_to_plain_ascii(first, last, expected):
    assert address_base(first, last) == expected


def _allocated(local_part: str) -> bool:
    return db.session.get(AllocatedAddress, local_part) is not None


@pytest.mark.parametrize(("first", "last", "expected"),
                         [row for row in HARD_NAMES if row[2] != "zoe.le-gall"])
def test_allocation_gives_the_folded_name_then_2_then_3(ctx, first, last, expected):
    assert not _allocated(expected), "the demo region already uses this address"
    assert allocate_address(first, last) == expected
    assert allocate_address(first, last) == expected + "2"
    assert allocate_address(first, last) == expected + "3"
    db.session.flush()
    assert _allocated(expected + "3")


def test_a_second_zoe_le_gall_gets_the_next_number(ctx):
    """The demo student holds zoe.le-gall; a homonym must not get it."""
    assert db.session.scalar(select(Account.address).where(Account.login == "zoe.le-gall")) \
        == "zoe.le-gall"
    account = create_account(login="zoe.homonyme", first_name="Zoé", last_name="Le Gall",
                             profile=Profile.STUDENT, password="Xx-123456",
                             schools=[school_by_uai("0310024H")])
    db.session.commit()
    assert account.address == "zoe.le-gall2"


def test_a_name_with_nothing_foldable_still_gets_an_address(ctx):
    first = allocate_address("李", "小龙")
    second = allocate_address("王", "芳")
    assert first.startswith("utilisateur") and second.startswith("utilisateur")
    assert first != second


def test_address_of_a_deleted_account_is_never_given_again(ctx):
    school = school_by_uai("0310024H")
    first = create_account(login="oskar.wladyslaw", first_name="Oskar", last_name="Władysław",
                           profile=Profile.TEACHER, password="Xx-123456", schools=[school])
    db.session.commit()
    assert first.address == "oskar.wladyslaw"
    db.session.delete(first)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Account)
                             .where(Account.address == "oskar.wladyslaw")) == 0
    assert _allocated("oskar.wladyslaw")

    second = create_account(login="oskar.w2", first_name="Oskar", last_name="Wladyslaw",
                            profile=Profile.TEACHER, password="Xx-123456", schools=[school])
    db.session.commit()
    assert second.address == "oskar.wladyslaw2"


def test_very_long_names_give_an_address_that_fits_a_mail_local_part(ctx):
    """RFC 5321 limits a local part to 64 characters; names may be 100 each."""
    first, last = "Marie-" + "a" * 94, "Dupont-" + "b" * 93
    account = create_account(login="long.names", first_name=first, last_name=last,
                             profile=Profile.STUDENT, password="Xx-123456",
                             schools=[school_by_uai("0310024H")])
    again = create_account(login="long.names2", first_name=first, last_name=last,
                           profile=Profile.STUDENT, password="Xx-123456",
                           schools=[school_by_uai("0310024H")])
    db.session.commit()
    assert len(account.address) <= 64 and len(again.address) <= 64
    assert account.address.startswith("marie-aaaa") and ".dupont-bb" in account.address
    assert again.address == account.address + "2"


def test_lists_sort_the_french_way_letters_then_accents_then_case():
    words = ["français", "EPS", "SVT", "éducation musicale", "espagnol", "Latin", "allemand",
             "Éducation civique", "arts plastiques"]
    assert sorted(words, key=collation_key) == [
        "allemand", "arts plastiques", "Éducation civique", "éducation musicale", "EPS",
        "espagnol", "français", "Latin", "SVT"]
    assert sorted(["cote", "Côte", "côte"], key=collation_key) == ["cote", "Côte", "côte"]


def _fold_reference(text: str) -> str:
    """The rule as first written, one character at a time (the folding was made faster)."""
    text = text.translate(naming._SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


# Text of French mail, and of any script: ligatures, letters decomposed into letters that
# fold again ('ǽ' → 'æ' → 'ae'), combining marks written apart, final sigmas, surrogates.
_TRICKY = "àâäçéèêëîïôöùûüÿœæÆŒǽǼøØßẞİıłŁđðÞþΣσςﬁ①㎏ｶ\u0301\u0327\u00a0\u2028Å\ud800 \n"


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=())) | st.text(alphabet=_TRICKY)
       | st.lists(st.sampled_from(["Élève", "ǽ", "æ", "ΌΣΟΣ", " ", "\r\n", "e\u0301",
                                   "cœur"])).map("".join))
def test_fold_is_the_rule_as_first_written(text):
    assert naming.fold(text) == _fold_reference(text)


def test_fold_of_french_text():
    assert naming.fold("Zoé, l'élève de 3ᵉ, a lu « Œdipe » à Noël.") == \
        "zoe, l'eleve de 3e, a lu « oedipe » a noel."
