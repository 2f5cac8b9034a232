"""The demo region (`preau demo`): a fixed seed gives the same people every time.

Rows are built in Python and written with bulk INSERTs in chunks, ids assigned here, so that a
region of 500,000 accounts loads in minutes on SQLite and PostgreSQL. Every demo account shares
one argon2 hash of the demo password: hashing 500,000 passwords would take hours.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker
from sqlalchemy import insert, text

from .clock import utcnow
from .db import db
from .enums import GroupKind, Profile
from .models import Account, AccountSchool, AllocatedAddress, Group, GroupMember, ParentLink, School
from .naming import address_base, search_key, with_suffix
from .passwords import hash_password
from .rubrics import ensure_default_rubrics

DEMO_PASSWORD = "Preau-demo-2026!"
FIRST_UAI = "0310024H"
CLASS_SIZE = 25
LEVELS = ("6e", "5e", "4e", "3e")
DISCIPLINES = ("français", "mathématiques", "histoire-géographie", "anglais", "espagnol",
               "allemand", "SVT", "physique-chimie", "technologie", "EPS", "arts plastiques",
               "éducation musicale")
OPTION_GROUPS = ("Latin", "Chorale", "Section européenne", "Théâtre", "Allemand LV2")
PROJECT_GROUPS = (
    ("Club théâtre", "Répétitions le jeudi midi"),
    ("Journal du collège", "Le comité de rédaction"),
    ("Atelier robotique", "Concours de robots en juin"),
    ("Éco-délégués", "Tri, potager et économies d'énergie"),
    ("Voyage en Espagne", "Préparation du voyage de printemps"),
    ("Club échecs", "Tournoi interne le vendredi"),
    ("Atelier d'écriture", "Nouvelles et poèmes"),
    ("Club astronomie", "Soirées d'observation"),
)
SAFE_DOMAINS = ("example.org", "example.com", "example.net")
CHUNK = 5000


@dataclass
class Region:
    """Rows waiting to be inserted, and the bookkeeping that allocates ids and addresses."""

    fake: Faker
    rng: random.Random
    now: object
    password_hash: str
    schools: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    account_schools: list[dict] = field(default_factory=list)
    parent_links: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    taken: dict[str, int] = field(default_factory=dict)

    def address(self, first: str, last: str) -> str:
        base = address_base(first, last)
        n = self.taken.get(base, 0) + 1
        while with_suffix(base, n) in self.taken:
            n += 1
        self.taken[base] = n
        local = with_suffix(base, n)
        if local != base:
            self.taken[local] = 1
        return local

    def school(self, uai: str, name: str, city: str) -> int:
        school_id = len(self.schools) + 1
        self.schools.append({"id": school_id, "uai": uai, "name": name, "city": city,
                             "login_pattern": "{uai}.{f}.{last}"})
        return school_id

    def account(self, first: str, last: str, profile: Profile, schools: list[int], *,
                discipline: str | None = None, redirect: str | None = None,
                is_admin: bool = False) -> int:
        account_id = len(self.accounts) + 1
        local = self.address(first, last)
        name_key, first_key = search_key(first, last)
        self.accounts.append({
            "id": account_id, "login": local, "external_id": f"demo-{account_id}",
            "first_name": first, "last_name": last, "search_name": name_key,
            "search_first": first_key, "profile": profile, "discipline": discipline,
            "address": local, "redirect_address": redirect,
            "redirect_verified": redirect is not None, "pending_redirect_address": None,
            "password_hash": self.password_hash, "must_change_password": False,
            "suspended": False, "is_admin": is_admin, "created_at": self.now,
            "last_access_at": None,
        })
        for school_id in dict.fromkeys(schools):
            self.account_schools.append({"account_id": account_id, "school_id": school_id})
        return account_id

    def group(self, kind: GroupKind, name: str, school_id: int, description: str = "",
              persistent: bool = False) -> int:
        group_id = len(self.groups) + 1
        self.groups.append({"id": group_id, "kind": kind, "name": name,
                            "search_name": search_key("", name)[0], "description": description,
                            "school_id": school_id, "persistent": persistent,
                            "external_id": f"demo-g{group_id}", "created_at": self.now})
        return group_id

    def member(self, group_id: int, account_id: int, manager: bool = False) -> None:
        self.members.append({"group_id": group_id, "account_id": account_id,
                             "is_manager": manager})

    def link(self, parent_id: int, child_id: int) -> None:
        self.parent_links.append({"parent_id": parent_id, "child_id": child_id})

    def person(self) -> tuple[str, str]:
        return self.fake.first_name(), self.fake.last_name()

    def email_for(self, first: str, last: str) -> str:
        return f"{address_base(first, last)}@{self.rng.choice(SAFE_DOMAINS)}"


def plan_schools(users: int) -> int:
    """About one school per 1,000 accounts, at least 3."""
    return max(3, round(users / 1000))


def load_demo(users: int = 600, seed: int = 2026,
              echo: Callable[[str], None] = lambda _: None) -> str:
    """The demo region written and committed; returns a summary line."""
    summary = write_demo(users, seed, echo)
    db.session.commit()
    refresh_statistics()
    return summary


def write_demo(users: int = 600, seed: int = 2026,
               echo: Callable[[str], None] = lambda _: None) -> str:
    """The demo region written in the caller's transaction, which commits it (`preau demo`
    with what it adds after, so that a failure leaves nothing and a second run starts from
    an empty database); returns a summary line."""
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    region = Region(fake=fake, rng=random.Random(seed), now=utcnow(),
                    password_hash=hash_password(DEMO_PASSWORD))
    school_count = plan_schools(users)
    first_school = region.school(FIRST_UAI, "Collège Jean Jaurès", "Toulouse")
    for n in range(2, school_count + 1):
        city = fake.city()
        kind = "Lycée" if n % 3 == 0 else "Collège"
        region.school(f"{310000 + n:07d}{'ABCDEFGHJKLMNPRSTUVWXYZ'[n % 23]}",
                      f"{kind} {fake.last_name()}", city)
    fixed = _fixed_accounts(region, first_school)
    per_school = max(40, (users - len(region.accounts)) // school_count)
    for school_id in range(1, school_count + 1):
        _populate_school(region, school_id, per_school, fixed if school_id == first_school
                         else None)
    echo(f"Écriture de {len(region.accounts)} comptes dans {school_count} établissements…")
    _write(region)
    return (f"{len(region.accounts)} comptes, {school_count} établissements, "
            f"{len(region.groups)} groupes")


def _fixed_accounts(region: Region, school_id: int) -> dict[str, int]:
    """The accounts SPEC §10 promises, created first so they get the plain addresses."""
    return {
        "zoe": region.account("Zoé", "Le Gall", Profile.STUDENT, [school_id]),
        "lucas": region.account("Lucas", "Martin", Profile.STUDENT, [school_id]),
        "joseph": region.account("Joseph", "Fabre", Profile.PARENT, [school_id],
                                 redirect="joseph@example.org"),
        "claire": region.account("Claire", "Bernard", Profile.TEACHER, [school_id],
                                 discipline="français", redirect="claire.bernard@example.net"),
        "paul": region.account("Paul", "Durand", Profile.STAFF, [school_id]),
        "admin": _admin(region, school_id),
    }


def _admin(region: Region, school_id: int) -> int:
    account_id = region.account("", "Admin", Profile.STAFF, [school_id], is_admin=True)
    row = region.accounts[account_id - 1]
    row["first_name"], row["last_name"] = "Administrateur", "Préau"
    row["search_name"], row["search_first"] = search_key("Administrateur", "Préau")
    return account_id


def _populate_school(region: Region, school_id: int, size: int,
                     fixed: dict[str, int] | None) -> None:
    rng = region.rng
    students_wanted = int(size * 0.46)
    classes_count = max(4, round(students_wanted / CLASS_SIZE))
    classes = []
    for n in range(classes_count):
        level = LEVELS[n % len(LEVELS)]
        letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n // len(LEVELS)) % 26]
        suffix = "" if n < 4 * 26 else str(n // (4 * 26) + 1)
        classes.append(region.group(GroupKind.CLASS, f"{level[0]}{letter}{suffix}", school_id,
                                    f"Classe de {level}", persistent=False))
    options = [region.group(GroupKind.GROUP, name, school_id, f"Groupe {name}")
               for name in OPTION_GROUPS]

    teachers = []
    for n in range(max(4, int(size * 0.07))):
        first, last = region.person()
        teachers.append(region.account(
            first, last, Profile.TEACHER, [school_id], discipline=DISCIPLINES[n % 12],
            redirect=region.email_for(first, last) if rng.random() < 0.9 else None))
    if fixed:
        teachers.insert(0, fixed["claire"])
    for index, class_id in enumerate(classes):
        for teacher in {teachers[(index + k) % len(teachers)] for k in range(4)}:
            region.member(class_id, teacher)
    for option_id in options:
        region.member(option_id, rng.choice(teachers))

    for _ in range(max(1, int(size * 0.03))):
        first, last = region.person()
        region.account(first, last, Profile.STAFF, [school_id],
                       redirect=region.email_for(first, last) if rng.random() < 0.7 else None)

    students = []
    if fixed:
        four_a = classes[2]
        region.member(four_a, fixed["claire"])  # SPEC §10: Claire teaches 4A
        for key in ("zoe", "lucas"):
            region.member(four_a, fixed[key])
            students.append(fixed[key])
        region.link(fixed["joseph"], fixed["zoe"])
    for n in range(students_wanted):
        first, last = region.person()
        student = region.account(first, last, Profile.STUDENT, [school_id])
        region.member(classes[n % len(classes)], student)
        if rng.random() < 0.15:
            region.member(rng.choice(options), student)
        students.append(student)
        if rng.random() < 0.85:
            parent_first = region.fake.first_name()
            parent = region.account(
                parent_first, last, Profile.PARENT, [school_id],
                redirect=region.email_for(parent_first, last) if rng.random() < 0.7 else None)
            region.link(parent, student)
    if rng.random() < 0.1 or fixed:
        region.account(*region.person(), Profile.OTHER, [school_id])

    for n in range(2):
        manager = teachers[n % len(teachers)]
        name, description = PROJECT_GROUPS[(2 * (school_id - 1) + n) % len(PROJECT_GROUPS)]
        group_id = region.group(GroupKind.AD_HOC, name, school_id, description,
                                persistent=n == 0)
        region.member(group_id, manager, manager=True)
        for student in rng.sample(students, min(8, len(students))):
            region.member(group_id, student)


def _write(region: Region) -> None:
    tables = [(School, region.schools), (Account, region.accounts),
              (AccountSchool, region.account_schools), (ParentLink, region.parent_links),
              (Group, region.groups), (GroupMember, _unique_members(region.members)),
              (AllocatedAddress, [{"local_part": row["address"], "allocated_at": region.now}
                                  for row in region.accounts])]
    for model, rows in tables:
        for start in range(0, len(rows), CHUNK):
            db.session.execute(insert(model), rows[start:start + CHUNK])
    _reset_sequences()
    ensure_default_rubrics()


def refresh_statistics() -> None:
    """After a bulk load the planner knows nothing of the new rows: without fresh statistics
    PostgreSQL picks sequential scans for searches until autovacuum comes round. SQLite's
    ANALYZE fills sqlite_stat1 the same way."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def _unique_members(rows: list[dict]) -> list[dict]:
    seen: dict[tuple[int, int], dict] = {}
    for row in rows:
        key = (row["group_id"], row["account_id"])
        if key not in seen or row["is_manager"]:
            seen[key] = row
    return list(seen.values())


def _reset_sequences() -> None:
    """Ids were given here; PostgreSQL's sequences must start after them."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in ("school", "account", '"group"'):
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 1))"))
