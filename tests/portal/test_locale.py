from tests.conftest import post_form


def test_english_is_available_and_french_is_default(client):
    assert "Se connecter" in client.get("/connexion").get_data(as_text=True)
    post_form(client, "/langue/en", {"next": "/connexion"}, page="/connexion")
    html = client.get("/connexion").get_data(as_text=True)
    assert '<html lang="en">' in html and "Log in to Préau" in html
