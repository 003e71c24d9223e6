"""The state database: its engine (SQLite in the store folder, or PostgreSQL by URL) and its
migrations, run on open under a lock so that processes starting together do not collide."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from assistant.errors import ConfigError
from assistant.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30.0  # SQLite: how long a writer waits for another's transaction (a migration included)
# PostgreSQL: the advisory lock held while migrating (any fixed 64-bit number; this one is a CRC of a name).
PG_LOCK = zlib.crc32(b"report-assistant state migrations")
VERSION_TABLE = "state_version"  # not alembic_version: the database may be shared with another app


def database_url(settings: Settings) -> URL:
    """settings.state_url, or SQLite `state.db` in the store folder; `postgresql://` means psycopg 3."""
    if not settings.state_url:
        return URL.create("sqlite", database=str(Path(settings.store) / "state.db"))
    try:
        url = make_url(settings.state_url)
    except ArgumentError:
        raise ConfigError(f"Setting state_url is not a database URL: {settings.state_url!r} (e.g. "
                          "postgresql://USER@HOST/DB, or sqlite:////path/state.db).") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def describe(url: URL) -> str:
    """The URL for messages, password hidden."""
    return url.render_as_string(hide_password=True)


def engine_for(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # A server that does not answer fails the open within seconds instead of hanging the app's start.
    connect_args = {"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
    try:
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError) as e:
        raise ConfigError(f"Cannot use the state database {describe(url)}: {e}") from None


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        path = Path(url.database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Made by us, readable by its owner only: it holds password hashes. SQLite gives its
        # journal and WAL files the same mode; an empty file is an empty database to it.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    # pysqlite begins transactions late and on its own terms (never before DDL), so the driver
    # is put in autocommit and SQLAlchemy's begin sends BEGIN itself: a migration's BEGIN
    # IMMEDIATE takes the write lock before it reads the version, and DDL is transactional.
    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")  # ON DELETE CASCADE is off in SQLite unless asked
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")  # readers (every API request) never wait for a writer
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return engine


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write. On SQLite it takes the write lock at BEGIN (waiting up to
    the busy timeout): a deferred one that read first and then wrote, after another connection's
    commit, would fail at once with "database is locked" whatever the timeout."""
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        yield conn


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config  # only when opening: alembic costs 0.2 s to import

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def _at_head(connection: Connection, cfg: Any) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_heads()
    return set(current) == set(ScriptDirectory.from_config(cfg).get_heads())


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision. Cheap when it is there already (one read);
    otherwise under a lock that a second process waits on, finding the work done when it gets it."""
    from alembic import command

    with engine.connect() as probe:
        if _at_head(probe, _alembic_config(probe)):
            return
    # SQLite: BEGIN IMMEDIATE is the lock (see _sqlite_engine); PostgreSQL: an advisory lock
    # that ends with the transaction, DDL included (both have transactional DDL).
    with writing(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK})
        command.upgrade(_alembic_config(conn), "head")


def open_engine(settings: Settings) -> tuple[Engine, URL]:
    """The engine, with the schema migrated; ConfigError when the database cannot be reached."""
    url = database_url(settings)
    engine = None
    try:
        engine = engine_for(url)
        migrate(engine)
    except (SQLAlchemyError, OSError) as e:
        if engine is not None:
            engine.dispose()
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise ConfigError(f"Cannot open the state database {describe(url)}: {reason}") from None
    return engine, url
