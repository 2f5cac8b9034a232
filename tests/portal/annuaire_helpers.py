"""What the Annuaire, group and administration tests share: the page read as a person reads it
(rows of the result table, envelopes, messages, links), with html.parser only."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from sqlalchemy import select

from directory.db import db
from directory.models import Account, Group, School

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict
    parent: Element | None = None
    children: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(" ".join(c if isinstance(c, str) else c.text
                                 for c in self.children).split())

    def all(self, tag: str, **attrs) -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag and all(child.has(k, v) for k, v in attrs.items()):
                    found.append(child)
                found += child.all(tag, **attrs)
        return found

    def one(self, tag: str, **attrs) -> Element:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> in the page"
        return found[0]

    def has(self, key: str, value: str) -> bool:
        key = key.rstrip("_").replace("_", "-")
        if key == "class":
            return value in (self.attrs.get("class") or "").split()
        return self.attrs.get(key) == value


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("document", {})

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), parent=self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_endtag(self, tag):
        element = self.current
        while element is not None and element.tag != tag:
            element = element.parent
        if element is not None and element.parent is not None:
            self.current = element.parent

    def handle_data(self, data):
        self.current.children.append(data)


def html(response) -> Element:
    tree = _Tree()
    tree.feed(response.get_data(as_text=True))
    return tree.root


@dataclass
class Row:
    cells: list[str]
    envelope: str | None          # the envelope's link, None when writing is not allowed
    buttons: list[str]

    @property
    def name(self) -> str:
        return self.cells[0]


def people_rows(page: Element) -> list[Row]:
    """The people table: one Row per person (name, profile, schools, classes, discipline)."""
    tables = page.all("table", class_="people")
    if not tables:
        return []
    rows = []
    for tr in tables[0].one("tbody").all("tr"):
        cells = [td.text for td in tr.all("td")]
        envelopes = tr.all("a", class_="envelope")
        rows.append(Row(cells=cells[:5], envelope=envelopes[0].attrs["href"] if envelopes
                        else None, buttons=[b.text for b in tr.all("button")]))
    return rows


def group_rows(page: Element) -> list[list[str]]:
    tables = page.all("table", class_="groups")
    return [[td.text for td in tr.all("td")] for tr in tables[0].one("tbody").all("tr")] \
        if tables else []


def messages(page: Element) -> list[str]:
    """Flash messages, form errors and field errors, as shown."""
    return ([p.text for p in page.all("p", class_="flash")]
            + [d.text for d in page.all("div", class_="form-errors")]
            + [u.text for u in page.all("ul", class_="errors")])


def status_text(page: Element) -> str:
    return page.one("p", class_="result-count").text


def account(app, login: str) -> Account:
    with app.app_context():
        found = db.session.scalar(select(Account).where(Account.login == login))
        db.session.expunge(found)
        return found


def group_id(app, name: str, uai: str = "0310024H") -> int:
    with app.app_context():
        return db.session.scalar(select(Group.id).join(School).where(Group.name == name,
                                                                     School.uai == uai))


def school_id(app, uai: str) -> int:
    with app.app_context():
        return db.session.scalar(select(School.id).where(School.uai == uai))
