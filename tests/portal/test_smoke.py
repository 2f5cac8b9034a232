

def test_login_page_is_french_with_csp(client):
    response = client.get("/connexion")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Connexion à Préau" in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_student_logs_in_and_sees_home(student):
    html = student.get("/").get_data(as_text=True)
    assert "Bonjour Zoé" in html
    assert "zoe.le-gall@ent.test" in html
