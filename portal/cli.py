"""The `preau` command line (SPEC §10). User mistakes end in one clear line and exit 1."""
from __future__ import annotations

import sys
import time

import click
from sqlalchemy import func, select
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

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
        click.echo(f"Administrateur créé : {account.login} ({account.address}@"
                   f"{app.config['MAIL_DOMAIN']}).")

    _guarded(action)


from . import processes  # noqa: E402  (registers serve, web, mailgate, worker)

processes.register(main)

if __name__ == "__main__":
    sys.exit(main())
