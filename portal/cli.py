"""The `preau` command line (SPEC §10). User mistakes end in one clear line and exit 1."""
from __future__ import annotations

import sys
import time

import click
from sqlalchemy import func, select
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from agenda import times
from directory.db import db
from directory.errors import PreauError


def _app():
    from portal import create_app

    return create_app()


def _guarded(action):
    """Run `action(app)` inside an app context, turning expected failures into one line."""
    try:
        app = _app()
        with app.app_context():
            return action(app)
    except PreauError as error:
        raise click.ClickException(error.message) from None
    except ArgumentError as error:
        raise click.ClickException(f"PREAU_DATABASE_URL n'est pas une URL valide : {error}") \
            from None
    except (OperationalError, ProgrammingError) as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise click.ClickException(f"Base de données injoignable ou pas initialisée "
                                   f"(lancez `preau init`) : {reason}") from None
    except ModuleNotFoundError as error:
        raise click.ClickException(f"Pilote de base de données absent : {error.name}") from None


@click.group(help="Préau: the school portal with a mail server built in.")
def main():
    pass


@main.command(help="Create the database, or upgrade it to the latest schema.")
def init():
    from flask_migrate import upgrade

    def action(app):
        upgrade(directory=app.extensions["migrate"].directory)
        click.echo(f"Base de données prête : {_safe_url(app)}")

    _guarded(action)


def _safe_url(app) -> str:
    return db.engine.url.render_as_string(hide_password=True)


@main.command(help="Load the demo region (fixed seed) into an empty database.")
@click.option("--users", default=600, show_default=True, type=click.IntRange(50, 2_000_000),
              help="Approximate number of accounts.")
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when accounts exist.")
def demo(users: int, seed: int, if_empty: bool):
    from directory.demo import load_demo
    from directory.models import Account

    def action(app):
        if db.session.scalar(select(func.count()).select_from(Account)):
            if if_empty:
                click.echo("La base contient déjà des comptes : démo non chargée.")
                return
            raise click.ClickException("La base contient déjà des comptes ; la démo se charge "
                                       "dans une base vide.")
        started = time.perf_counter()
        stats = load_demo(users=users, seed=seed, echo=click.echo)
        elapsed = time.perf_counter() - started
        click.echo(f"Région de démonstration chargée : {stats} en {elapsed:.1f} s "
                   f"({db.engine.dialect.name}).")

    _guarded(action)


@main.command("create-admin", help="Create an administrator account.")
@click.option("--login", required=True)
@click.option("--school", "uai", required=True, help="UAI code of the administrator's school.")
@click.option("--first-name", default="Administrateur", show_default=True)
@click.option("--last-name", default="Préau", show_default=True)
@click.password_option(help="Prompted when omitted.")
def create_admin(login: str, uai: str, first_name: str, last_name: str, password: str):
    from directory.accounts import create_account, school_by_uai
    from directory.enums import Profile
    from directory.errors import InvalidInput
    from directory.passwords import policy_errors

    def action(app):
        errors = policy_errors(password)
        if errors:
            raise InvalidInput(" ".join(errors))
        account = create_account(login=login, first_name=first_name, last_name=last_name,
                                 profile=Profile.STAFF, password=password,
                                 schools=[school_by_uai(uai)], is_admin=True)
        db.session.commit()
        click.echo(f"Administrateur créé : {account.login} ({account.universal_address}).")

    _guarded(action)


class OneLine(click.ClickException):
    """A refusal printed as its French line alone (no "Error:" prefix), exit code 1."""

    def show(self, file=None) -> None:
        click.echo(self.format_message(), err=True)


@main.command("import-ics", help="Import an iCalendar (.ics) file into a group's agenda.")
@click.argument("file")
@click.option("--group", "group", required=True, help="Name or id of the group.")
@click.option("--apply", "apply_", is_flag=True,
              help="Write the events (without it: only show what would be imported).")
def import_ics(file: str, group: str, apply_: bool):
    from pathlib import Path

    from agenda import access, ical_read, importing
    from agenda.errors import AgendaError

    from .agenda.wording import describe, fate_labels, note_labels

    path = Path(file)
    if not path.is_file():
        raise OneLine(f"Fichier introuvable : {file}")

    def action(app):
        target = _group(group)
        try:
            read = ical_read.read(path.read_bytes())
        except AgendaError as error:
            raise OneLine(f"{file} : {describe(error)}") from None
        agenda = access.ensure_agenda(target)
        lines = importing.apply(None, agenda, read) if apply_ else importing.plan(agenda, read)
        fates, notes = fate_labels(), note_labels()
        for line in lines:
            when = f"{times.to_local(line.starts_at):%d/%m/%Y %H:%M}" if line.starts_at else ""
            reason = ("cet UID appartient à un autre agenda" if line.reason == "elsewhere"
                      else line.reason)
            extra = " ".join([reason, *(notes[n] for n in line.notes)]).strip()
            click.echo(f"{fates[line.fate]:<11} {when:<16} {line.title or line.uid}"
                       + (f" — {extra}" if extra else ""))
        counts = {fate: sum(line.fate == fate for line in lines) for fate in importing.Fate}
        summary = ", ".join(f"{n} {fates[fate]}" for fate, n in counts.items() if n)
        if apply_:
            db.session.commit()
            click.echo(f"Agenda « {target.name} » : {summary}.")
        else:
            click.echo(f"Simulation pour l'agenda « {target.name} » : {summary}. Rien n'est "
                       "enregistré : relancez avec --apply pour importer.")

    try:
        _guarded(action)
    except click.ClickException as error:
        raise OneLine(error.format_message()) from None


def _group(name_or_id: str):
    """The group named, or whose id is, `name_or_id`; one clear line when none or several."""
    from directory.models import Group, School

    query = select(Group).join(School)
    found = list(db.session.scalars(query.where(Group.id == int(name_or_id)))) \
        if name_or_id.isdigit() else []
    if not found:
        found = list(db.session.scalars(query.where(Group.name == name_or_id.strip())
                                        .order_by(School.uai).limit(6)))
    if not found:
        raise OneLine(f"Aucun groupe « {name_or_id} ».")
    if len(found) > 1:
        which = ", ".join(f"{g.id} ({g.school.uai})" for g in found[:5])
        raise OneLine(f"Plusieurs groupes s'appellent « {name_or_id} » : indiquez son "
                      f"numéro ({which}).")
    return found[0]


from . import processes  # noqa: E402  (registers serve, web, mailgate, worker)

processes.register(main)

if __name__ == "__main__":
    sys.exit(main())
