"""A plain, slow reference for SPEC §2 over a small region held in Python sets, and the code
that writes such a region into the database. The property test checks the SQL engine
(directory/rights.py) against it; it is written from the rule's words, not from the engine."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert

from directory.db import db
from directory.enums import DEFAULT_ROLES, GroupKind, Profile, Role
from directory.models import (
    Account,
    AccountSchool,
    Group,
    GroupMember,
    MailCorrespondent,
    ParentLink,
    RoleOverride,
    School,
)

BASE_ID = 900_000  # far above the demo region's ids


@dataclass
class Person:
    profile: Profile
    schools: frozenset[int]
    suspended: bool = False
    overrides: dict[Role, bool] = field(default_factory=dict)


@dataclass
class Region:
    schools: int
    people: list[Person]
    groups: list[tuple[GroupKind, int]]                  # (kind, school index)
    members: dict[tuple[int, int], bool]                 # (group, person) → is manager
    links: set[tuple[int, int]]                          # (parent, child)
    # (reader, author): the reader received a message the author wrote
    received: set[tuple[int, int]] = field(default_factory=set)

    # --- the rule, from SPEC §2 and the words of directory/rights.py's docstring -----------

    def roles(self, p: int) -> set[Role]:
        person = self.people[p]
        roles = set(DEFAULT_ROLES[person.profile])
        for role, granted in person.overrides.items():
            (roles.add if granted else roles.discard)(role)
        return roles

    def groups_of(self, p: int) -> set[int]:
        return {g for (g, m) in self.members if m == p}

    def classes_of(self, p: int) -> set[int]:
        return {g for g in self.groups_of(p) if self.groups[g][0] == GroupKind.CLASS}

    def members_of(self, g: int) -> set[int]:
        return {m for (group, m) in self.members if group == g}

    def students_of(self, g: int) -> set[int]:
        return {m for m in self.members_of(g) if self.people[m].profile == Profile.STUDENT}

    def teachers_of(self, g: int) -> set[int]:
        return {m for m in self.members_of(g)
                if self.people[m].profile == Profile.TEACHER or self.members[(g, m)]}

    # A suspended child (whose access ended) ties their parents to nothing, though they stay
    # a member of their groups.
    def parents_of_group(self, g: int) -> set[int]:
        return {parent for (parent, child) in self.links
                if child in self.members_of(g) and not self.people[child].suspended}

    def children_of(self, p: int) -> set[int]:
        return {child for (parent, child) in self.links
                if parent == p and not self.people[child].suspended}

    def reachable(self, s: int, replying_to: int | None = None) -> set[int]:
        """Indexes of the people `s` may write to."""
        if self.people[s].suspended:
            return set()
        roles = self.roles(s)
        reach = {s}
        if replying_to is not None:
            reach.add(replying_to)
        # "One may always answer anyone who wrote to one."
        reach |= {author for (reader, author) in self.received if reader == s}
        if Role.SEND_EXTENDED in roles:
            reach |= set(range(len(self.people)))
        if self.people[s].profile == Profile.STUDENT and Role.INTERNAL_MAIL in roles:
            for g in self.groups_of(s):
                reach |= self.students_of(g) | self.teachers_of(g)
            for g in self.classes_of(s):
                reach |= self.parents_of_group(g)
        if Role.SEND in roles:
            children = self.children_of(s)
            reach |= children
            for child in children:
                for g in self.groups_of(child):
                    reach |= self.teachers_of(g)
                for g in self.classes_of(child):
                    reach |= self.students_of(g) | self.parents_of_group(g)
            for g in self.groups_of(s):
                reach |= self.members_of(g)
        return {p for p in reach if not self.people[p].suspended}

    # --- writing it into the database ---------------------------------------------------------

    @staticmethod
    def account_id(p: int) -> int:
        return BASE_ID + p

    def write(self, password_hash: str) -> None:
        db.session.execute(insert(School), [
            {"id": BASE_ID + i, "uai": f"9{i:06d}Z", "name": f"École {i}", "city": "Ville"}
            for i in range(self.schools)])
        db.session.execute(insert(Account), [
            {"id": BASE_ID + p, "login": f"prop.{p}", "first_name": f"Prénom{p}",
             "last_name": f"Nom{p}", "search_name": f"nom{p} prenom{p}",
             "search_first": f"prenom{p}", "profile": person.profile,
             "address": f"prop.{p}", "password_hash": password_hash,
             "suspended": person.suspended}
            for p, person in enumerate(self.people)])
        rows = {
            AccountSchool: [{"account_id": BASE_ID + p, "school_id": BASE_ID + s}
                            for p, person in enumerate(self.people) for s in person.schools],
            RoleOverride: [{"account_id": BASE_ID + p, "role": role, "granted": granted}
                           for p, person in enumerate(self.people)
                           for role, granted in person.overrides.items()],
            Group: [{"id": BASE_ID + g, "kind": kind, "name": f"G{g}", "search_name": f"g{g}",
                     "school_id": BASE_ID + school}
                    for g, (kind, school) in enumerate(self.groups)],
            GroupMember: [{"group_id": BASE_ID + g, "account_id": BASE_ID + p,
                           "is_manager": manager} for (g, p), manager in self.members.items()],
            ParentLink: [{"parent_id": BASE_ID + parent, "child_id": BASE_ID + child}
                         for parent, child in self.links],
            MailCorrespondent: [{"account_id": BASE_ID + reader, "author_id": BASE_ID + author}
                                for reader, author in self.received],
        }
        for model, values in rows.items():
            if values:
                db.session.execute(insert(model), values)
