"""The one SQLAlchemy handle shared by every package (directory is the lowest layer)."""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def text_enum(cls, name: str, *, length: int) -> Enum:
    """A Python enum stored as its values in a VARCHAR(length), never a native ENUM type: the
    same schema on SQLite and PostgreSQL, and a new member needs no ALTER TYPE."""
    return Enum(cls, name=name, native_enum=False, length=length,
                values_callable=lambda e: [m.value for m in e])


def configure_engine(engine) -> None:
    """SQLite only: foreign keys on, WAL so readers never wait for the writer, a busy
    timeout instead of 'database is locked', and transactions begun by SQLAlchemy rather than
    by the sqlite3 module (which otherwise breaks SAVEPOINTs)."""
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")
