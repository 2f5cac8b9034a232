"""The `preau` command line (SPEC §10). User mistakes end in one clear line and exit 1."""
from __future__ import annotations

import sys
import time

import click
from sqlalchemy import func, select
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from agenda import times
from directory.db import db, write_transaction
from directory.errors import PreauError

from .cli_french import install as speak_french

speak_french()


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


@click.group(help="Préau : le portail des écoles, avec son serveur de messagerie.",
             subcommand_metavar="COMMANDE [ARGUMENTS]...")
def main():
    pass


@main.command(help="Créer la base de données, ou la mettre au dernier schéma.")
def init():
    from flask_migrate import upgrade

    def action(app):
        upgrade(directory=app.extensions["migrate"].directory)
        click.echo(f"Base de données prête : {_safe_url(app)}")

    _guarded(action)


def _safe_url(app) -> str:
    return db.engine.url.render_as_string(hide_password=True)


@main.command(short_help="Charger la région de démonstration.",
              help="Charger la région de démonstration (graine fixe) dans une base vide.")
@click.option("--users", default=600, show_default=True, type=click.IntRange(50, 2_000_000),
              metavar="NOMBRE",
              help="Nombre approximatif de comptes.")
@click.option("--seed", default=2026, show_default=True, type=int, metavar="NOMBRE",
              help="Graine du hasard : même graine, mêmes personnes.")
@click.option("--if-empty", is_flag=True, help="Ne rien faire (code 0) si des comptes existent déjà.")
def demo(users: int, seed: int, if_empty: bool):
    from directory.demo import refresh_statistics, write_demo
    from directory.models import Account

    from .demo_life import bring_to_life

    def action(app):
        if db.session.scalar(select(func.count()).select_from(Account)):
            if if_empty:
                click.echo("La base contient déjà des comptes : démo non chargée.")
                return
            raise click.ClickException("La base contient déjà des comptes ; la démo se charge "
                                       "dans une base vide.")
        started = time.perf_counter()
        stats = write_demo(users=users, seed=seed, echo=click.echo)
        life = bring_to_life()
        db.session.commit()     # one transaction: a failure leaves the database empty
        refresh_statistics()
        stats = f"{stats}, {life}"
        elapsed = time.perf_counter() - started
        click.echo(f"Région de démonstration chargée : {stats} en {elapsed:.1f} s "
                   f"({db.engine.dialect.name}).")

    _guarded(action)


@main.command("create-admin", help="Créer un compte administrateur de la région, ou d'un établissement avec --school-admin.")
@click.option("--login", required=True, metavar="IDENTIFIANT", help="Identifiant du compte.")
@click.option("--school", "uai", required=True, metavar="UAI",
              help="Code UAI de l'établissement de l'administrateur.")
@click.option("--first-name", default="Administrateur", show_default=True, metavar="PRÉNOM",
              help="Prénom.")
@click.option("--last-name", default="Préau", show_default=True, metavar="NOM", help="Nom.")
@click.option("--school-admin", is_flag=True,
              help="Administrateur des seuls comptes de cet établissement, et non de la "
                   "région entière.")
@click.password_option(metavar="MOT-DE-PASSE", help="Mot de passe (demandé s'il est omis).")
def create_admin(login: str, uai: str, first_name: str, last_name: str, school_admin: bool,
                 password: str):
    from directory.accounts import create_account, school_by_uai
    from directory.enums import Profile
    from directory.errors import InvalidInput
    from directory.passwords import policy_errors

    def action(app):
        errors = policy_errors(password)
        if errors:
            raise InvalidInput(" ".join(str(rule) for rule in errors))
        school = school_by_uai(uai)
        account = create_account(login=login, first_name=first_name, last_name=last_name,
                                 profile=Profile.STAFF, password=password, schools=[school],
                                 is_admin=not school_admin)
        account.is_school_admin = school_admin
        db.session.commit()
        role = f"Administrateur de {school.name} ({school.uai})" if school_admin \
            else "Administrateur"
        click.echo(f"{role} créé : {account.login} ({account.universal_address}).")

    _guarded(action)


@main.command("purge-uploads", short_help="Effacer les fichiers d'articles abandonnés.",
              help="Effacer les images et fichiers envoyés pour un article il y a plus d'un "
                   "jour et qui ne sont dans aucun article enregistré (brouillons compris), "
                   "par lots : à lancer chaque jour (cron).")
def purge_uploads():
    from .rubriques.articles import purge_orphans

    def action(app):
        click.echo(f"Fichiers d'articles abandonnés effacés : {purge_orphans()}.")

    _guarded(action)


class OneLine(click.ClickException):
    """A refusal printed as its French line alone (no "Error:" prefix), exit code 1."""

    def show(self, file=None) -> None:
        click.echo(self.format_message(), err=True)


@main.command("import-ics", short_help="Importer un fichier .ics dans un agenda.", help="Importer un fichier iCalendar (.ics) dans l'agenda d'un groupe.")
@click.argument("file", metavar="FICHIER")
@click.option("--group", "group", required=True, metavar="GROUPE",
              help="Nom ou numéro du groupe.")
@click.option("--apply", "apply_", is_flag=True,
              help="Écrire les évènements (sans elle : montrer seulement ce qui serait "
                   "importé).")
def import_ics(file: str, group: str, apply_: bool):
    from pathlib import Path

    from agenda import access, ical_read, importing
    from agenda.errors import AgendaError

    from .agenda.wording import describe, fate_labels, note_labels, skip_reason

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
        try:    # applying books rooms: the writer's lock, as the web import takes it
            lines = write_transaction(lambda: importing.apply(None, agenda, read)) \
                if apply_ else importing.plan(agenda, read)
        except AgendaError as error:    # a room the file's new times would take twice
            db.session.rollback()
            raise OneLine(f"{file} : {describe(error)}") from None
        fates, notes = fate_labels(), note_labels()
        for line in lines:
            when = f"{times.to_local(line.starts_at):%d/%m/%Y %H:%M}" if line.starts_at else ""
            reason = skip_reason(line.reason) if line.reason else ""
            extra = " ".join([reason, *(notes[n] for n in line.notes)]).strip()
            click.echo(f"{fates[line.fate]:<11} {when:<16} {line.title or line.uid}"
                       + (f" — {extra}" if extra else ""))
        counts = {fate: sum(line.fate == fate for line in lines) for fate in importing.Fate}
        summary = ", ".join(f"{n} {fates[fate]}" for fate, n in counts.items() if n)
        if apply_:
            click.echo(f"Agenda « {target.name} » : {summary}.")
        else:
            click.echo(f"Simulation pour l'agenda « {target.name} » : {summary}. Rien n'est "
                       "enregistré : relancez avec --apply pour importer.")

    try:
        _guarded(action)
    except click.ClickException as error:
        raise OneLine(error.format_message()) from None


@main.command("import-users", short_help="Importer les comptes d'un établissement.",
              help="Importer les comptes d'un établissement depuis un fichier CSV.")
@click.argument("file", metavar="FICHIER")
@click.option("--school", "uai", required=True, metavar="UAI",
              help="Code UAI de l'établissement.")
@click.option("--apply", "apply_", is_flag=True,
              help="Écrire les comptes (sans elle : montrer seulement ce qui serait fait).")
@click.option("--create-classes", is_flag=True,
              help="Créer les classes que le fichier nomme et qui n'existent pas.")
def import_users(file: str, uai: str, apply_: bool, create_classes: bool):
    from pathlib import Path

    from directory.account_file import FileRefused, read_account_file
    from directory.account_import import apply_import, plan_import
    from directory.accounts import school_by_uai

    from .admin import wording
    from .admin.imports import mail_generated_passwords

    path = Path(file)
    if not path.is_file():
        raise OneLine(f"Fichier introuvable : {file}")

    def action(app):
        school = school_by_uai(uai)
        try:
            account_file = read_account_file(path.read_bytes())
        except FileRefused as refused:
            raise OneLine(f"{file} : {refused}") from None
        if account_file.ignored_columns:
            click.echo("Colonnes ignorées : " + ", ".join(account_file.ignored_columns) + ".")
        if not apply_:
            plan = plan_import(school, account_file, create_classes=create_classes)
            for row in plan.rows:
                detail = " ; ".join([*(str(e) for e in row.errors),
                                     *([wording.changes(row.changes)] if row.changes else []),
                                     *(str(n) for n in row.notes)])
                click.echo(f"ligne {row.row.line:<6} {wording.fate_label(row.fate):<12} "
                           f"{row.row.last_name} {row.row.first_name}"
                           + (f" → {row.login}" if row.login else "")
                           + (f" — {detail}" if detail else ""))
            counts = ", ".join(f"{n} {wording.fate_label(fate)}"
                               for fate, n in plan.counts.items() if n)
            click.echo(f"Simulation pour {school.name} ({school.uai}) : {counts}. Rien n'est "
                       "enregistré : relancez avec --apply pour importer.")
            return
        with click.progressbar(length=len(account_file.rows), label="Import",
                               file=sys.stderr) as bar:
            done, errors = [0], [0]

            def progress(result):
                bar.update(result.done - done[0])
                done[0], errors[0] = result.done, errors[0] + result.errors

            created, updated = apply_import(school, account_file,
                                            create_classes=create_classes,
                                            before_commit=mail_generated_passwords,
                                            progress=progress)
        click.echo(f"{school.name} ({school.uai}) : "
                   f"{wording.summary(created, updated, errors[0])}.")

    try:
        _guarded(action)
    except click.ClickException as error:
        raise OneLine(error.format_message()) from None


def _group(name_or_id: str):
    """The group named, or whose id is, `name_or_id`; one clear line when none or several."""
    from directory.models import Group, School

    query = select(Group).join(School)
    found = list(db.session.scalars(query.where(Group.id == int(name_or_id)))) \
        if name_or_id.isdecimal() else []
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
