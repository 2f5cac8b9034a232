"""The portal under load, as `make run` runs it: `preau web` (gunicorn, 2 workers of 4 threads)
and `preau mailgate` as processes of their own on the test database.

- Issue 10, item 1: while the gateway receives a steady stream over SMTP, 40 logins and 40
  messages sent from the web form all succeed — on SQLite (the embedded default) as on
  PostgreSQL. The test prints its figures (`pytest -s`): they are the ones in
  docs/PERFORMANCE.md (« The portal under mail load »).
- Item 2: 80 wrong passwords for one account sent at once get at most 5 password checks."""
from __future__ import annotations

import http.cookiejar
import re
import smtplib
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from directory.enums import Profile
from tests.conftest import DEMO_PASSWORD

from .conftest import address_of, free_port, is_postgres, new_account
from .helpers import mail, raw
from .test_processes import preau_env, start, stop, wait_for_port

JOSEPH = "joseph@example.org"
STREAM_RATE = 20            # messages per second offered to the gateway
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie jar and a client that reports every status instead of following redirects."""

    def __init__(self, base: str, address: str = "127.0.0.1"):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        """(status, page); status 0 when no answer came within a minute."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, body, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except OSError as error:
            return 0, repr(error)

    def post_form(self, path: str, data: dict) -> tuple[int, str]:
        status, page = self.request(path)
        match = TOKEN.search(page)
        if status != 200 or not match:
            return status, page
        return self.request(path, {"csrf_token": next(g for g in match.groups() if g),
                                   **data})


def _errors(page: str) -> list[str]:
    return re.findall(r'class="[^"]*(?:error|flash)[^"]*"[^>]*>([^<]+)<', page)


@dataclass
class Tally:
    done: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, error: str | None) -> None:
        with self.lock:
            if error:
                self.errors.append(error)
            else:
                self.done += 1


class Stream(threading.Thread):
    """Mail from a parent to a pupil at STREAM_RATE messages per second, two sessions."""

    def __init__(self, port: int, recipient: str):
        super().__init__(daemon=True)
        self.port, self.recipient = port, recipient
        self.stop = threading.Event()
        self.tally = Tally()

    def run(self) -> None:
        sessions = [smtplib.SMTP("127.0.0.1", self.port, timeout=60) for _ in range(2)]
        n = 0
        started = time.monotonic()
        while not self.stop.is_set():
            message = mail(JOSEPH, self.recipient, f"Flux {n}")
            try:
                sessions[n % 2].sendmail(JOSEPH, [self.recipient], raw(message))
                self.tally.add(None)
            except smtplib.SMTPException as error:
                self.tally.add(repr(error))
            n += 1
            time.sleep(max(0.0, started + n / STREAM_RATE - time.monotonic()))
        for session in sessions:
            session.quit()


@pytest.fixture(scope="module")
def processes(mail_app, live_database):
    """(portal URL, gateway port): `preau web` and `preau mailgate`, as `preau serve` starts
    them."""
    web_port, smtp_port = free_port(), free_port()
    env = preau_env(mail_app, live_database, PREAU_WEB_LISTEN=f"127.0.0.1:{web_port}",
                    PREAU_SMTP_LISTEN=f"127.0.0.1:{smtp_port}")
    children = [start(["web"], env), start(["mailgate"], env)]
    try:
        wait_for_port(web_port, children[0])
        wait_for_port(smtp_port, children[1])
        yield f"http://127.0.0.1:{web_port}", smtp_port
    finally:
        for child in children:
            stop(child)


def test_80_wrong_passwords_at_once_get_at_most_5_password_checks(processes):
    web, _ = processes
    target = new_account(Profile.STUDENT, group_of="zoe.le-gall").login
    answers = []

    def wrong(n: int) -> None:
        browser = Browser(web)
        status, page = browser.request("/connexion")
        token = next(g for g in TOKEN.search(page).groups() if g)
        answers.append(browser.request("/connexion", {
            "csrf_token": token, "login": target, "password": f"Mauvais-{n}"}))

    with ThreadPoolExecutor(80) as pool:
        list(pool.map(wrong, range(80)))
    statuses = {status for status, _ in answers}
    checked = sum("Identifiant ou mot de passe incorrect." in page for _, page in answers)
    throttled = sum("Trop de tentatives de connexion échouées" in page for _, page in answers)
    print(f"\n80 wrong passwords at once: {checked} checked, {throttled} refused unchecked")
    assert statuses == {400}
    assert checked + throttled == 80
    assert 1 <= checked <= 5


def test_logins_and_sends_under_a_steady_mail_stream_give_no_error(processes):
    web, smtp_port = processes
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    pupil_id, pupil_address = pupil.id, address_of(pupil)
    people = [new_account(Profile.STUDENT, group_of="zoe.le-gall").login for _ in range(40)]
    teachers = [new_account(Profile.TEACHER, group_of="zoe.le-gall").login for _ in range(8)]
    senders = []
    for teacher in teachers:
        browser = Browser(web)
        assert browser.post_form("/connexion", {"login": teacher,
                                                "password": DEMO_PASSWORD})[0] == 302
        senders.append(browser)
    logins, sends = Tally(), Tally()

    def log_in(n: int) -> None:
        browser = Browser(web)
        status, _ = browser.post_form("/connexion", {"login": people[n],
                                                     "password": DEMO_PASSWORD})
        home = browser.request("/")[0] if status == 302 else None
        logins.add(None if (status, home) == (302, 200) else f"login {status} then {home}")

    def send(n: int) -> None:
        status, page = senders[n % len(senders)].post_form("/messagerie/ecrire", {
            "to": f"p:{pupil_id}", "subject": f"Depuis le portail {n}", "body": "Bonjour.",
            "action": "envoyer"})
        sends.add(None if status == 303 else f"send {status}: {_errors(page)}")

    stream = Stream(smtp_port, pupil_address)
    stream.start()
    time.sleep(1)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        tasks = [pool.submit(log_in, n) for n in range(40)]
        tasks += [pool.submit(send, n) for n in range(40)]
        for task in tasks:
            task.result()
    elapsed = time.monotonic() - started
    stream.stop.set()
    stream.join(60)

    database = "PostgreSQL" if is_postgres() else "SQLite"
    print(f"\n[{database}] {elapsed:.1f} s: {logins.done}/40 logins, {sends.done}/40 sends, "
          f"{len(logins.errors) + len(sends.errors)} web errors; gateway "
          f"{stream.tally.done} messages accepted "
          f"({stream.tally.done / (elapsed + 1):.1f}/s), {len(stream.tally.errors)} refused")
    assert logins.errors == [] and sends.errors == []
    assert (logins.done, sends.done) == (40, 40)
    assert stream.tally.errors == [] and stream.tally.done > 0
