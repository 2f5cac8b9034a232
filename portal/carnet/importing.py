"""vCard import: recognise each card as a person of the directory, show the plan, apply it
whole or not at all.

A card is recognised, within the importer's search perimeter only:
1. by a universal address (an EMAIL at the portal's domain) — redirect addresses are never
   compared, so an import cannot reveal whose private address a card holds;
2. otherwise by name, accents and case ignored: N (last; first) or FN read in every order of
   its words ("Zoé Le Gall" → "le gall zoe"), and only when exactly one person matches.
Every other card is listed with the reason.

The plan travels from the preview to the confirmation as a signed token (no server state,
several web processes may serve the two requests); the confirmation checks everything again
and writes in one transaction, so a change in between refuses the import instead of
applying part of it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext, ngettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from directory.db import db
from directory.domain import mail_domain
from directory.errors import InvalidInput
from directory.models import Account
from directory.naming import search_key
from directory.search import AccountFilters, search_query

from . import book
from .models import ContactGroup, ContactMember
from .vcard import Card

CHUNK = 500
PLAN_MAX_AGE = 3600
MAX_NAME_WORDS = 8
CATEGORIES = "categories"
NEW_GROUP = "nouveau"
EXISTING_GROUP = "groupe"


@dataclass
class Target:
    """Where recognised cards go: CATEGORIES (one group per category, `name` for cards with
    none), NEW_GROUP (a new group called `name`) or EXISTING_GROUP (`group`)."""

    mode: str
    name: str = ""
    group: ContactGroup | None = None


@dataclass
class Outcome:
    card: Card
    person: Account | None = None
    reason: str | None = None
    groups: list[str] = field(default_factory=list)


@dataclass
class PlannedGroup:
    name: str
    existing_id: int | None
    account_ids: list[int] = field(default_factory=list)
    already: int = 0        # of account_ids, those already members of the existing group

    @property
    def adding(self) -> int:
        return len(self.account_ids) - self.already


@dataclass
class Plan:
    outcomes: list[Outcome]
    groups: list[PlannedGroup]

    @property
    def recognised(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.person is not None]

    @property
    def unrecognised(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.person is None]


# Recognising cards -----------------------------------------------------------------------

def recognise(viewer: Account, cards: Sequence[Card]) -> list[Outcome]:
    """One Outcome per card; a bounded number of queries per CHUNK cards."""
    suffix = "@" + mail_domain()
    local_parts = {id(c): [e.lower().removesuffix(suffix) for e in c.emails
                           if e.lower().endswith(suffix)] for c in cards}
    keys = {id(c): _name_keys(c) for c in cards}
    by_address = _people("address", {p for parts in local_parts.values() for p in parts},
                         viewer)
    by_key = _people("search_name", {k for ks in keys.values() for k in ks}, viewer)
    return [_outcome(card, local_parts[id(card)], keys[id(card)], by_address, by_key)
            for card in cards]


def _name_keys(card: Card) -> set[str]:
    keys = set()
    if card.family or card.given:
        keys.add(search_key(card.given, card.family)[0])
    words = search_key("", card.full_name)[0].split()[:MAX_NAME_WORDS]
    keys.update(" ".join(words[i:] + words[:i]) for i in range(len(words)))
    return {k for k in keys if k}


def _people(column: str, values: set[str], viewer: Account) -> dict[str, list[Account]]:
    """People of the viewer's perimeter whose `column` is one of `values`, by that value."""
    found: dict[str, list[Account]] = defaultdict(list)
    values = sorted(values)
    for start in range(0, len(values), CHUNK):
        query = search_query(viewer, AccountFilters()).where(
            getattr(Account, column).in_(values[start:start + CHUNK]))
        for person in db.session.scalars(query):
            found[getattr(person, column)].append(person)
    return found


def _outcome(card: Card, local_parts: list[str], keys: set[str],
             by_address: dict[str, list[Account]], by_key: dict[str, list[Account]]) -> Outcome:
    for part in local_parts:
        if by_address.get(part):
            return Outcome(card, person=by_address[part][0])
    namesakes = {p.id: p for key in keys for p in by_key.get(key, [])}
    if len(namesakes) == 1:
        return Outcome(card, person=next(iter(namesakes.values())))
    return Outcome(card, reason=_reason(card, local_parts, len(namesakes)))


def _reason(card: Card, local_parts: list[str], namesakes: int) -> str:
    """Why a card is not recognised: one whole sentence per case, for the translations."""
    named = card.full_name or f"{card.given} {card.family}".strip()
    if namesakes > 1:
        return gettext("%(count)d personnes de votre annuaire s'appellent « %(name)s » : "
                       "ajoutez son adresse universelle à la fiche pour la désigner.",
                       count=namesakes, name=named)
    if not card.emails:
        if not named:
            return gettext("La fiche ne porte ni nom ni adresse électronique.")
        return gettext("Aucune personne de votre annuaire ne s'appelle « %(name)s ».",
                       name=named)
    address = card.emails[0]
    if local_parts:  # an address at the portal's domain
        if not named:
            return gettext("L'adresse %(address)s n'est celle d'aucune personne de votre "
                           "annuaire et la fiche ne porte pas de nom.", address=address)
        return gettext("L'adresse %(address)s n'est celle d'aucune personne de votre "
                       "annuaire, et aucune personne de votre annuaire ne s'appelle "
                       "« %(name)s ».", address=address, name=named)
    if not named:
        return gettext("L'adresse %(address)s n'est pas une adresse de l'ENT et la fiche ne "
                       "porte pas de nom.", address=address)
    return gettext("L'adresse %(address)s n'est pas une adresse de l'ENT, et aucune personne "
                   "de votre annuaire ne s'appelle « %(name)s ».", address=address, name=named)


# The plan --------------------------------------------------------------------------------

def build_plan(owner: Account, cards: Sequence[Card], target: Target) -> Plan:
    """Which person goes into which group; InvalidInput when the import cannot be done."""
    outcomes = recognise(owner, cards)
    planned: dict[str, PlannedGroup] = {}
    for outcome in outcomes:
        if outcome.person is None:
            continue
        names = _group_names(outcome.card, target)
        try:
            names = [book.checked_name(n) for n in names]
        except InvalidInput as error:
            outcome.person, outcome.reason = None, gettext("Catégorie refusée : %(reason)s",
                                                           reason=error.message)
            continue
        outcome.groups = names
        for name in names:
            entry = planned.setdefault(book.name_key(name), PlannedGroup(name, None))
            if outcome.person.id not in entry.account_ids:
                entry.account_ids.append(outcome.person.id)
    groups = list(planned.values())
    if len(groups) > book.MAX_GROUPS:   # before their names go into one statement
        raise InvalidInput(ngettext("Cet import créerait %(num)d groupe(s) : votre carnet "
                                    "dépasserait %(max)d groupes.",
                                    "Cet import créerait %(num)d groupe(s) : votre carnet "
                                    "dépasserait %(max)d groupes.",
                                    len(groups), max=book.MAX_GROUPS))
    _attach_existing(owner, groups, target)
    _check_limits(owner, groups)
    return Plan(outcomes, groups)


def _group_names(card: Card, target: Target) -> list[str]:
    if target.mode == CATEGORIES:
        return card.categories or [target.name]
    return [target.group.name if target.group else target.name]


def _attach_existing(owner: Account, groups: list[PlannedGroup], target: Target) -> None:
    """Link planned groups to the owner's groups of the same name; count who is there."""
    if not groups:
        return
    existing = {g.name_key: g for g in db.session.scalars(select(ContactGroup).where(
        ContactGroup.owner_id == owner.id,
        ContactGroup.name_key.in_([book.name_key(g.name) for g in groups])))}
    for planned in groups:
        group = existing.get(book.name_key(planned.name))
        if group is None:
            continue
        if target.mode == NEW_GROUP:
            raise InvalidInput(gettext("Vous avez déjà un groupe « %(name)s » : choisissez-le "
                                       "dans la liste ou donnez un autre nom.",
                                       name=group.name))
        planned.existing_id, planned.name = group.id, group.name
        planned.already = _members_among(group.id, planned.account_ids)


def _members_among(group_id: int, account_ids: list[int]) -> int:
    total = 0
    for start in range(0, len(account_ids), CHUNK):
        total += db.session.scalar(select(func.count()).where(
            ContactMember.group_id == group_id,
            ContactMember.account_id.in_(account_ids[start:start + CHUNK])))
    return total


def _check_limits(owner: Account, groups: list[PlannedGroup]) -> None:
    new_groups = sum(1 for g in groups if g.existing_id is None)
    if new_groups and book.group_count(owner) + new_groups > book.MAX_GROUPS:
        raise InvalidInput(ngettext("Cet import créerait %(num)d groupe(s) : votre carnet "
                                    "dépasserait %(max)d groupes.",
                                    "Cet import créerait %(num)d groupe(s) : votre carnet "
                                    "dépasserait %(max)d groupes.",
                                    new_groups, max=book.MAX_GROUPS))
    for planned in groups:
        current = book.member_count(planned.existing_id) if planned.existing_id else 0
        if current + planned.adding > book.MAX_MEMBERS:
            raise InvalidInput(gettext("Le groupe « %(name)s » dépasserait %(max)d membres, "
                                       "le maximum d'un groupe du carnet.", name=planned.name,
                                       max=book.MAX_MEMBERS))


# From the preview to the confirmation ----------------------------------------------------

def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="carnet-import")


def sign_plan(owner: Account, plan: Plan, secret: str) -> str:
    return _serializer(secret).dumps(
        {"owner": owner.id,
         "groups": [[g.name, g.existing_id, g.account_ids] for g in plan.groups]})


def apply_signed_plan(owner: Account, token: str, secret: str) -> list[tuple[str, int]]:
    """Write the confirmed plan: (group name, people added) for each group. The caller
    commits, or rolls back on InvalidInput so that nothing at all is written."""
    try:
        data = _serializer(secret).loads(token, max_age=PLAN_MAX_AGE)
    except BadSignature:
        raise InvalidInput(gettext("Cette confirmation a expiré ou n'est pas valable : "
                                   "importez le fichier à nouveau.")) from None
    if not isinstance(data, dict) or data.get("owner") != owner.id:
        raise InvalidInput(gettext("Cette confirmation n'est pas la vôtre : importez le "
                                   "fichier à nouveau."))
    return [(group.name, _add_checked(owner, group, ids))
            for group, ids in _groups_of(owner, data["groups"])]


def _groups_of(owner: Account, planned: Iterable) -> Iterable[tuple[ContactGroup, list[int]]]:
    for name, existing_id, account_ids in planned:
        if not existing_id:
            yield book.group_called(owner, name), account_ids
            continue
        group = book.owned_group(owner, existing_id)
        if group is None:
            raise InvalidInput(gettext("Le groupe « %(name)s » n'existe plus : importez le "
                                       "fichier à nouveau.", name=name))
        yield group, account_ids


def _add_checked(owner: Account, group: ContactGroup, account_ids: list[int]) -> int:
    """Add the people, provided every one of them is still in the owner's perimeter."""
    chunks = [account_ids[s:s + CHUNK] for s in range(0, len(account_ids), CHUNK)]
    findable = sum(db.session.scalar(select(func.count()).select_from(
        book.findable(owner).where(Account.id.in_(chunk)).subquery())) for chunk in chunks)
    if findable != len(set(account_ids)):
        raise InvalidInput(gettext("Certaines personnes de cet import ne font plus partie de "
                                   "votre annuaire : importez le fichier à nouveau."))
    return sum(book.add_ids(group, book.findable(owner).where(Account.id.in_(chunk)))
               for chunk in chunks)
