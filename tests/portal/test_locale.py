from tests.conftest import DEMO_PASSWORD, post_form


def test_english_is_available_and_french_is_default(client):
    assert "Se connecter" in client.get("/connexion").get_data(as_text=True)
    post_form(client, "/langue/en", {"next": "/connexion"}, page="/connexion")
    html = client.get("/connexion").get_data(as_text=True)
    assert '<html lang="en">' in html and "Log in to Préau" in html
    assert "Forgotten password?" in html


def test_an_english_reader_sees_profiles_menus_and_forms_in_english(logged_in):
    client = logged_in("claire.bernard")
    post_form(client, "/langue/en", {"next": "/"}, page="/")
    home = client.get("/").get_data(as_text=True)
    assert "Teacher ·" in home and "Enseignant" not in home and "Mail" in home
    assert ">Groups</a>" in home
    groups = client.get("/groupes/?nom=4a").get_data(as_text=True)
    assert "<td>Class</td>" in groups and "ENTClasse</td>" not in groups
    found = client.get("/annuaire/?nom=le+gall").get_data(as_text=True)
    assert "Student" in found and ">Élève<" not in found
    listing = client.get("/messagerie/").get_data(as_text=True)
    assert "Sort by" in listing and "Trier par" not in listing


def test_the_password_policy_is_one_text_in_the_readers_language(logged_in):
    client = logged_in("claire.bernard")
    french = client.get("/mot-de-passe").get_data(as_text=True)
    assert "8 caractères au moins, dont une minuscule, une majuscule et un caractère non " \
           "alphanumérique" in french
    post_form(client, "/langue/en", {"next": "/"}, page="/")
    english = client.get("/mot-de-passe").get_data(as_text=True)
    assert "8 characters or more, including a lowercase letter, an uppercase letter and a " \
           "non-alphanumeric character" in english
    weak = post_form(client, "/mot-de-passe", {"current": DEMO_PASSWORD, "new": "abc",
                                               "confirm": "abc"}).get_data(as_text=True)
    assert "The password must contain at least 8 characters." in weak
    assert "The password must contain at least one uppercase letter." in weak
    assert "Le mot de passe doit" not in weak


def test_an_english_administrator_reads_roles_and_profiles_in_english(admin):
    post_form(admin, "/langue/en", {"next": "/"}, page="/")
    roles = admin.get("/administration/?compte=zoe.le-gall").get_data(as_text=True)
    assert "Internal mail" in roles and "Messagerie interne" not in roles
    new = admin.get("/administration/comptes/nouveau").get_data(as_text=True)
    assert ">Student<" in new and ">Élève<" not in new


def test_a_moment_reads_in_the_readers_language(app):
    """The communications wrote « 12/05/2026 à 08:00 » in English too (« à » in the format)."""
    from datetime import datetime

    from flask_babel import force_locale

    from portal.i18n import day_at_time

    moment = datetime(2026, 5, 12, 6, 0)        # naive UTC: 08:00 in Paris
    with app.test_request_context():
        assert day_at_time(moment) == "12/05/2026 à 08:00"
        with force_locale("en"):
            assert day_at_time(moment) == "12/05/2026 at 08:00"


def test_a_folder_named_in_a_reason_reads_in_the_readers_language(app):
    """« la copie n'a pas été enregistrée dans « Messages envoyés » » named the folder in
    French on an English page: the folder is a reason of its own."""
    from flask_babel import force_locale

    from directory.wording import Reason
    from mailgate.models import FolderKind
    from portal.i18n import said

    notice = Reason("copy_not_saved", {"folder": FolderKind.SENT.reason})
    assert "« Messages envoyés »" in str(notice)
    with app.test_request_context(), force_locale("en"):
        assert "“Sent”" in said(notice) and "envoyés" not in said(notice)
