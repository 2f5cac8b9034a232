"""What the address book tests share: a small HTML tree (html.parser, no extra dependency),
and the steps a person takes in the pages."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from directory.db import db
from directory.models import Account
from portal.carnet.models import ContactGroup, ContactMember
from tests.conftest import csrf_token, login

DATA = Path(__file__).parent / "data"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    parent: Node | None = None

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join(" ".join(parts).split())

    def find_all(self, tag: str, **attrs) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and all(_has(child, k, v) for k, v in attrs.items()):
                    found.append(child)
                found += child.find_all(tag, **attrs)
        return found

    def find(self, tag: str, **attrs) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> in the page"
        return found[0]


def _has(node: Node, key: str, value: str) -> bool:
    key = key.rstrip("_")
    if key == "class":
        return value in (node.attrs.get("class") or "").split()
    return node.attrs.get(key) == value


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


def page(response) -> Node:
    return parse(response.get_data(as_text=True))


def table_rows(doc: Node, class_: str) -> list[list[str]]:
    table = doc.find("table", class_=class_)
    return [[cell.text for cell in row.find_all("td")] for row in table.find("tbody").find_all("tr")]


def flashes(doc: Node) -> list[str]:
    return [p.text for p in doc.find_all("p", class_="flash")]


def account_id(app, address: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.address == address))


def groups_of(app, owner: str) -> dict[str, set[str]]:
    """The owner's contact groups as {name: universal addresses (local parts) of members}."""
    with app.app_context():
        owner_id = db.session.scalar(select(Account.id).where(Account.address == owner))
        groups = {name: set() for name in db.session.scalars(
            select(ContactGroup.name).where(ContactGroup.owner_id == owner_id))}
        rows = db.session.execute(
            select(ContactGroup.name, Account.address)
            .join(ContactMember, ContactMember.group_id == ContactGroup.id)
            .join(Account, Account.id == ContactMember.account_id)
            .where(ContactGroup.owner_id == owner_id))
        for name, address in rows:
            groups[name].add(address)
        return groups


def create_group(client, name: str) -> int:
    """Create a group through the index page; returns its id."""
    token = csrf_token(client.get("/carnet/").get_data(as_text=True))
    response = client.post("/carnet/groupes", data={"csrf_token": token, "name": name})
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.search(r"/carnet/(\d+)/", response.headers["Location"]).group(1))


def add_person(app, client, group_id: int, address: str):
    token = csrf_token(client.get(f"/carnet/{group_id}").get_data(as_text=True))
    return client.post(f"/carnet/{group_id}/membres/ajouter",
                       data={"csrf_token": token, "account": account_id(app, address)})


def form_data(form: Node) -> dict[str, str | list[str]]:
    """The values a browser would send for the inputs of a form (hidden and filled ones)."""
    data: dict[str, list[str]] = {}
    for node in form.find_all("input"):
        name, kind = node.attrs.get("name"), node.attrs.get("type", "text")
        if not name or kind in ("submit", "file"):
            continue
        if kind in ("checkbox", "radio") and "checked" not in node.attrs:
            continue
        data.setdefault(name, []).append(node.attrs.get("value") or "")
    return {k: v[0] if len(v) == 1 else v for k, v in data.items()}


def submit(client, form: Node, url: str | None = None, **extra):
    """Post a form of a page as a browser would (to `url` when it has no action), with
    `extra` fields set."""
    return client.post(form.attrs.get("action") or url, data={**form_data(form), **extra})


def client_of(app, login_name: str):
    """A browser of its own, logged in as `login_name` (beside the `client` fixture's)."""
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    return client
