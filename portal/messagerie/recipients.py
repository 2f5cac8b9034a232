"""Recipients as the compose form holds them: *chips*, each a person, a directory group
(class, group) or a group of one's address book, in To, Copie or Copie cachée.

A chip travels as a token `<field>:<kind>:<id>` (`to:p:12`, `cc:g:5`, `bcc:c:3`) in hidden
inputs, in the picker's links and in drafts. A group chip stands for those of its members the
sender may write to (SPEC §2): they are what it counts for against the limit of 50, and what
it expands into when the message is sent. A directory group outside the sender's perimeter
or someone else's address-book group is `NotFound` (→ 404); the rights of each person are
checked again by the routing (`mailgate.routing.check`) before anything is sent.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from flask_babel import gettext
from sqlalchemy import Select, bindparam, exists, or_, select

from directory.db import db
from directory.driver_reads import KeptStatement, flushed_connection
from directory.errors import InvalidInput, NotFound
from directory.models import Account, Group, GroupMember, MailCorrespondent
from directory.rights import (
    RuleShape,
    SenderRule,
    rule_condition,
    sender_rule,
    writable_condition,
)
from directory.search import (
    group_perimeter,
    id_from,
    perimeter_condition,
    valid_id,
    visible_group,
)
from directory.sets import Int4, among
from mailgate.routing import over_limit

from ..carnet import book
from ..carnet.models import ContactGroup, ContactMember
from ..i18n import N_

FIELDS = ("to", "cc", "bcc")
# Translated where they are shown (`_(field_labels[name])` in the templates).
FIELD_LABELS = {"to": N_("À"), "cc": N_("Copie"), "bcc": N_("Copie cachée")}
PERSON, GROUP, CONTACTS = "p", "g", "c"
MAX_CHIPS = 200


@dataclass(frozen=True)
class Chip:
    field: str
    kind: str
    id: int
    label: str
    member_ids: tuple[int, ...]

    @property
    def token(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def full_token(self) -> str:
        return f"{self.field}:{self.kind}:{self.id}"

    @property
    def is_group(self) -> bool:
        return self.kind != PERSON


def parse(field: str, token: str) -> tuple[str, str, int]:
    """('to', 'p:12') → ('to', 'p', 12); anything else is InvalidInput."""
    kind, _, number = (token or "").partition(":")
    found = id_from(number)
    if field not in FIELDS or kind not in (PERSON, GROUP, CONTACTS) or found is None:
        raise InvalidInput(gettext("Un destinataire du formulaire est invalide."))
    return field, kind, found


def parse_full(token: str) -> tuple[str, str, int]:
    """'to:p:12' → ('to', 'p', 12)."""
    field, _, rest = (token or "").partition(":")
    return parse(field, rest)


def from_form(form) -> list[tuple[str, str, int]]:
    """The chips of a submitted form (hidden inputs named to, cc, bcc)."""
    given = [(field, token) for field in FIELDS for token in form.getlist(field)]
    _check_chip_count(len(given))
    return [parse(field, token) for field, token in given]


def from_tokens(tokens: Sequence[str], *, besides: int = 0) -> list[tuple[str, str, int]]:
    """The chips chosen in the picker without JavaScript (`ajout` values of an address:
    'to:p:12'), beside the `besides` chips the message holds already."""
    _check_chip_count(besides + len(tokens))
    return [parse_full(token) for token in tokens]


def _check_chip_count(count: int) -> None:
    """At most MAX_CHIPS chips, counted before any is read: whatever a form or an address
    holds, the server reads no more. (The limit of 50 people is `check_count`'s: a group
    chip counts for its members.)"""
    if count > MAX_CHIPS:
        raise InvalidInput(gettext("Trop de destinataires dans le formulaire (%(max)d au "
                                   "plus).", max=MAX_CHIPS))


def resolve(sender: Account, entries: Iterable[tuple[str, str, int]], *,
            drop_missing: bool = False) -> list[Chip]:
    """Chips with their labels and the people they stand for, duplicates dropped (a chip
    already in To is not repeated in Copie). A number of queries that does not grow with
    the chips: the sender's rule once, then one for the people, one for the directory
    groups, one for the address-book groups and one for the members of each kind. An
    unknown person is InvalidInput, a group one may not use NotFound — or, with
    `drop_missing` (a draft saved earlier), both are left out."""
    seen: set[tuple[str, int]] = set()
    unique = []
    for field, kind, number in entries:
        if (kind, number) not in seen:
            seen.add((kind, number))
            unique.append((field, kind, number))
    if not unique:
        return []
    rule = sender_rule(sender)
    people = _names(sender, [n for _, k, n in unique if k == PERSON], rule)
    groups = _directory_groups(sender, [n for _, k, n in unique if k == GROUP])
    contact_groups = book.owned_groups(sender, [n for _, k, n in unique if k == CONTACTS])
    members = {GROUP: writable_members_by_group(sender, GroupMember, list(groups), rule),
               CONTACTS: writable_members_by_group(sender, ContactMember, list(contact_groups),
                                                   rule)}
    chips = []
    for field, kind, number in unique:
        try:
            chips.append(_chip(field, kind, number, people, groups, contact_groups, members))
        except (InvalidInput, NotFound):
            if not drop_missing:
                raise
    return chips


def _chip(field: str, kind: str, number: int, people: dict[int, str],
          groups: dict[int, Group], contact_groups: dict[int, ContactGroup],
          members: dict[str, dict[int, tuple[int, ...]]]) -> Chip:
    if kind == PERSON:
        if number not in people:
            raise InvalidInput(gettext("Un des destinataires n'existe pas."))
        return Chip(field, kind, number, people[number], (number,))
    if kind == GROUP:
        group = groups.get(number)
        if group is None:
            raise NotFound("Ce groupe n'existe pas.")
        return _directory_chip(field, group, members[GROUP].get(group.id, ()))
    contact_group = contact_groups.get(number)
    if contact_group is None:
        raise NotFound("Ce groupe n'existe pas.")
    return _contact_chip(field, contact_group, members[CONTACTS].get(contact_group.id, ()))


def _names(sender: Account, ids: Sequence[int], rule: SenderRule | None = None
           ) -> dict[int, str]:
    """Names of the people `sender` may know of — in their directory perimeter, writable, or
    who wrote to them (a reply) —; anyone else is absent, like an unknown id: a chip posted
    with someone's id must not tell a pupil the names of the whole region. `rule`: the
    sender's `sender_rule`, when read already."""
    if not ids:
        return {}
    writable = rule_condition(rule) if rule is not None else writable_condition(sender)
    known = or_(perimeter_condition(sender), writable,
                exists().where(MailCorrespondent.account_id == sender.id,
                               MailCorrespondent.author_id == Account.id))
    rows = db.session.execute(select(Account.id, Account.first_name, Account.last_name)
                              .where(Account.id.in_(list(ids)), known))
    return {row.id: f"{row.first_name} {row.last_name}".strip() for row in rows}


def directory_group_chip(sender: Account, field: str, group_id: int,
                         rule: SenderRule | None = None) -> Chip:
    group = visible_group(sender, group_id)
    if group is None:
        raise NotFound("Ce groupe n'existe pas.")
    return _directory_chip(field, group, writable_members(sender, GroupMember, group.id, rule))


def contact_group_chip(sender: Account, field: str, group_id: int) -> Chip:
    group = book.owned_group(sender, group_id)
    if group is None:
        raise NotFound("Ce groupe n'existe pas.")
    return _contact_chip(field, group, writable_members(sender, ContactMember, group.id))


def _directory_chip(field: str, group: Group, members: tuple[int, ...]) -> Chip:
    return Chip(field, GROUP, group.id, f"{group.name} ({group.school.uai})", members)


def _contact_chip(field: str, group: ContactGroup, members: tuple[int, ...]) -> Chip:
    return Chip(field, CONTACTS, group.id, group.name, members)


def _directory_groups(sender: Account, group_ids: Sequence[int]) -> dict[int, Group]:
    """The directory groups among `group_ids` that the sender sees (`visible_group`'s rule,
    `group_perimeter`, in one query): id → group."""
    ids = [i for i in group_ids if valid_id(i)]
    if not ids:
        return {}
    return {group.id: group for group in db.session.scalars(
        select(Group).where(Group.id.in_(ids), group_perimeter(sender)))}


def writable_members(sender: Account, membership, group_id: int,
                     rule: SenderRule | None = None) -> tuple[int, ...]:
    """The members of a group (`membership`: GroupMember or ContactMember) the sender may
    write to, the sender excepted (a teacher writing to her class does not write to herself),
    in name order."""
    return writable_members_by_group(sender, membership, [group_id], rule).get(group_id, ())


def writable_members_by_group(sender: Account, membership, group_ids: Sequence[int],
                              rule: SenderRule | None = None) -> dict[int, tuple[int, ...]]:
    """`writable_members` of several groups in one query: group id → member ids. `rule`: the
    sender's `sender_rule`, when read already in this request."""
    if not group_ids:
        return {}
    found: dict[int, list[int]] = {}
    rule = rule or sender_rule(sender)
    rows = _writable_members_statement(membership, rule.shape).rows(
        flushed_connection(db.session),
        {**rule.parameters, "group_ids": list(group_ids), "sender": sender.id})
    for group_id, account_id in rows:
        found.setdefault(group_id, []).append(account_id)
    return {group_id: tuple(ids) for group_id, ids in found.items()}


def writable_memberships(membership, shape: RuleShape, sender) -> Select:
    """(group_id, id, search_name) of the members of groups (`membership`: GroupMember or
    ContactMember) that a rule of `shape` lets `sender` (its bound parameter) write to, the
    sender excepted; the rule's values are the statement's parameters
    (`SenderRule.parameters`)."""
    return (select(membership.group_id, Account.id, Account.search_name)
            .join(Account, Account.id == membership.account_id)
            .where(rule_condition(shape), Account.id != sender))


@lru_cache(maxsize=256)
def _writable_members_statement(membership, shape: RuleShape) -> KeptStatement:
    """`writable_members_by_group`'s query for one shape of rule, built once (building the
    rule's SQL cost more than running it, for a pupil's picker) and run on the driver's
    cursor after its first run (through the ORM session it cost 0.35 to 0.44 ms of CPU)."""
    members = writable_memberships(membership, shape, bindparam("sender", type_=Int4()))
    return KeptStatement(
        members.with_only_columns(membership.group_id, Account.id)
        .where(among(membership.group_id, "group_ids"))
        .order_by(membership.group_id, Account.search_name, Account.id))


def recipients_by_field(chips: Sequence[Chip]) -> dict[str, list[int]]:
    """Account ids per field, each person once: To before Copie before Copie cachée."""
    placed: dict[str, list[int]] = {field: [] for field in FIELDS}
    seen: set[int] = set()
    for field in FIELDS:
        for chip in chips:
            if chip.field != field:
                continue
            for account_id in chip.member_ids:
                if account_id not in seen:
                    seen.add(account_id)
                    placed[field].append(account_id)
    return placed


def count(chips: Sequence[Chip]) -> int:
    return len({account_id for chip in chips for account_id in chip.member_ids})


def check_count(chips: Sequence[Chip]) -> int:
    people = {account_id for chip in chips for account_id in chip.member_ids}
    too_many = over_limit(people)
    if too_many:
        raise InvalidInput(too_many)
    if any(chip.is_group and not chip.member_ids for chip in chips):
        empty = next(chip for chip in chips if chip.is_group and not chip.member_ids)
        raise InvalidInput(gettext("Le groupe « %(name)s » ne compte personne à qui vous "
                                   "puissiez écrire.", name=empty.label))
    return len(people)
