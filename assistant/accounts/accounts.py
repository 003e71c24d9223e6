"""The app's users: roles, grants on collections, passwords, API keys and login sessions, kept
in the state database (`db.py`). Every check reads the database, so a change made by the CLI or
by another server sharing the database takes effect at once."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from assistant.accounts import keys as keyring
from assistant.accounts import passwords
from assistant.accounts.db import describe, open_engine, writing
from assistant.accounts.principal import (
    AccountError,
    Principal,
    Role,
    UserInfo,
    check_collections,
    check_grants,
    check_password_text,
    check_user_name,
)
from assistant.accounts.tables import api_keys, conversations, forget_conversations, grants, sessions, users
from assistant.settings import Settings

MAX_SECRET = 1024  # longer "keys" and "tokens" are refused unread: none is made longer than 50


def now() -> datetime:  # one clock, which the tests move
    return datetime.now(UTC)


def _valid_name(name: object) -> bool:
    try:
        check_user_name(name)
    except AccountError:
        return False
    return True


class Accounts:
    """One per process (or server), shared by its threads: the engine pools connections, and
    nothing is cached but verified passwords, which are checked against the stored hash each time."""

    def __init__(self, engine: Engine, session_hours: float = 12.0, where: str = "") -> None:
        self.engine = engine
        self.session_hours = session_hours
        self.where = where  # the database, password hidden, for messages
        self._verified = passwords.VerifiedCache()

    @classmethod
    def open(cls, settings: Settings) -> Accounts:
        """The accounts in settings' state database, created or migrated first as needed."""
        engine, url = open_engine(settings)
        return cls(engine, settings.session_hours, describe(url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Accounts:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------

    def _row(self, conn: Connection, name: str) -> Row[Any] | None:
        return conn.execute(select(users).where(users.c.name == name)).first()

    def _require(self, conn: Connection, name: str) -> Row[Any]:
        check_user_name(name)
        row = self._row(conn, name)
        if row is None:
            raise AccountError(f"No user named {name!r} (`assistant users list` shows them).")
        return row

    def _principal(self, conn: Connection, row: Row[Any]) -> Principal:
        role = Role(row.role)
        pairs: list[tuple[str, bool]] = []
        if role is not Role.ADMIN:
            found = conn.execute(select(grants.c.collection, grants.c.can_write).where(grants.c.user_id == row.id))
            pairs = [(c, bool(w)) for c, w in found]
        return Principal.build(row.name, role, pairs)

    def any_users(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(users.c.id).limit(1)).first() is not None

    def get(self, name: str) -> Principal | None:
        if not _valid_name(name):
            return None
        with self.engine.connect() as conn:
            row = self._row(conn, name)
            return None if row is None else self._principal(conn, row)

    def users(self) -> list[UserInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
            counts = select(api_keys.c.user_id, func.count()).group_by(api_keys.c.user_id)
            keys: dict[int, int] = dict(conn.execute(counts).tuples().all())
            granted: dict[int, list[tuple[str, bool]]] = {}
            for uid, collection, writable in conn.execute(select(grants).order_by(grants.c.collection)):
                granted.setdefault(uid, []).append((collection, bool(writable)))
        out = []
        for r in rows:
            p = Principal.build(r.name, Role(r.role), granted.get(r.id, []))
            out.append(UserInfo(r.name, p.role, p.readable or (), tuple(sorted(p.write or ())), keys.get(r.id, 0),
                                r.created.isoformat(timespec="seconds")))
        return out

    # -- changing ------------------------------------------------------------------------------

    def add(self, name: str, role: Role | str, password: str, read: Iterable[str] = (),
            write: Iterable[str] = ()) -> Principal:
        check_user_name(name)
        role = Role.parse(role)
        check_password_text(password)
        read, write = check_collections(read), check_collections(write)
        check_grants(name, role, read | write, write)
        return self._create(name, role, passwords.hash_password(password), read | write, write)

    def _create(self, name: str, role: Role, password_hash: str | None, read: frozenset[str],
                write: frozenset[str]) -> Principal:
        try:
            with writing(self.engine) as conn:
                same = conn.execute(select(users.c.name).where(func.lower(users.c.name) == name.lower())).first()
                if same is not None:  # names differing only in case would be two people to a reader of logs
                    raise AccountError(f"A user named {same.name!r} already exists.")
                uid = conn.execute(insert(users).values(name=name, role=role.value, password_hash=password_hash,
                                                        created=now()).returning(users.c.id)).scalar_one()
                if read:
                    conn.execute(insert(grants), [{"user_id": uid, "collection": c, "can_write": c in write}
                                                  for c in sorted(read)])
                return self._principal(conn, self._require(conn, name))
        except IntegrityError:  # another process added the name between the check and the insert
            raise AccountError(f"A user named {name!r} already exists.") from None

    def remove(self, name: str) -> None:
        """The user, their grants, keys and sessions: their key and cookie stop working at once."""
        with writing(self.engine) as conn:
            uid = self._require(conn, name).id
            for table in (sessions, api_keys, grants):  # besides ON DELETE CASCADE, for databases without it
                conn.execute(delete(table).where(table.c.user_id == uid))
            conn.execute(delete(users).where(users.c.id == uid))
            # Their conversations too (owned by name): a new user given the name must not inherit them.
            forget_conversations(conn, conversations.c.owner == name)
        self._verified.forget(name)

    def passwd(self, name: str, password: str) -> None:
        """A new password; the user's login sessions end (their API keys stay)."""
        check_password_text(password)
        hashed = passwords.hash_password(password)
        with writing(self.engine) as conn:
            uid = self._require(conn, name).id
            conn.execute(update(users).where(users.c.id == uid).values(password_hash=hashed))
            conn.execute(delete(sessions).where(sessions.c.user_id == uid))
        self._verified.forget(name)

    def set_role(self, name: str, role: Role | str) -> Principal:
        """A new role. To admin: the grants go (an admin has every collection); to reader: the
        write grants become read grants, so a later promotion does not bring them back unasked."""
        role = Role.parse(role)
        with writing(self.engine) as conn:
            uid = self._require(conn, name).id
            conn.execute(update(users).where(users.c.id == uid).values(role=role.value))
            if role is Role.ADMIN:
                conn.execute(delete(grants).where(grants.c.user_id == uid))
            elif role is Role.READER:
                conn.execute(update(grants).where(grants.c.user_id == uid).values(can_write=False))
            return self._principal(conn, self._require(conn, name))

    def grant(self, name: str, read: Iterable[str] = (), write: Iterable[str] = ()) -> Principal:
        """Adds to the user's grants (writing implies reading); takes nothing away."""
        read, write = check_collections(read), check_collections(write)
        if not read and not write:
            raise AccountError("Name the collections to grant.")
        with writing(self.engine) as conn:
            row = self._require(conn, name)
            check_grants(name, Role(row.role), read | write, write)
            have = dict(conn.execute(select(grants.c.collection, grants.c.can_write)
                                     .where(grants.c.user_id == row.id)).tuples().all())
            for c in sorted(read | write):
                if c not in have:
                    conn.execute(insert(grants).values(user_id=row.id, collection=c, can_write=c in write))
                elif c in write and not have[c]:
                    conn.execute(update(grants).where(grants.c.user_id == row.id, grants.c.collection == c)
                                 .values(can_write=True))
            return self._principal(conn, row)

    def revoke(self, name: str, collections: Iterable[str]) -> Principal:
        """Takes reading and writing of these collections away."""
        gone = check_collections(collections)
        if not gone:
            raise AccountError("Name the collections to revoke.")
        with writing(self.engine) as conn:
            row = self._require(conn, name)
            if row.role == Role.ADMIN.value:
                raise AccountError(f"{name} is an admin, who reads and writes every collection; "
                                   "give them another role first (`assistant users role`).")
            have = set(conn.execute(select(grants.c.collection).where(grants.c.user_id == row.id)).scalars())
            if missing := sorted(gone - have):
                raise AccountError(f"{name} has no grant on {', '.join(missing)}.")
            conn.execute(delete(grants).where(grants.c.user_id == row.id, grants.c.collection.in_(sorted(gone))))
            return self._principal(conn, row)

    # -- credentials ---------------------------------------------------------------------------

    def check_password(self, name: str, password: str) -> Principal | None:
        """The user if the password is theirs, else None, spending one argon2 verify either way
        (no such user included) unless this pair was verified before against the hash still stored."""
        passwords.warm()
        if not _valid_name(name) or not isinstance(password, str) or not password:
            passwords.verify_password(None, password if isinstance(password, str) else "")
            return None
        with self.engine.connect() as conn:
            row = self._row(conn, name)
        stored = None if row is None else row.password_hash
        cached = self._verified.get(name, password)
        if stored is None or cached is None or not hmac.compare_digest(cached, stored):
            if not passwords.verify_password(stored, password) or stored is None:
                return None
            if passwords.needs_rehash(stored):  # the hasher's parameters went up since
                stored = self._rehash(name, stored, password)
            self._verified.put(name, password, stored)
        return self.get(name)

    def _rehash(self, name: str, old: str, password: str) -> str:
        new = passwords.hash_password(password)
        with writing(self.engine) as conn:  # only if unchanged meanwhile
            done = conn.execute(update(users).where(users.c.name == name, users.c.password_hash == old)
                                .values(password_hash=new)).rowcount
        return new if done else old

    def new_key(self, name: str) -> str:
        """A new API key for the user: returned once, stored only as its SHA-256."""
        with writing(self.engine) as conn:
            return keyring.make(conn, self._require(conn, name).id, now())

    def keys(self, name: str) -> list[keyring.KeyInfo]:
        """The user's API keys, oldest first, each by its hint."""
        with self.engine.connect() as conn:
            return keyring.listed(conn, self._require(conn, name).id)

    def revoke_keys(self, name: str, which: str | None = None) -> int:
        """Deletes the user's API keys: all of them, or the one `which` names (see keyring.revoke);
        how many went."""
        with writing(self.engine) as conn:
            return keyring.revoke(conn, self._require(conn, name).id, name, which)

    def check_key(self, key: str) -> Principal | None:
        if not isinstance(key, str) or not key.startswith(passwords.KEY_PREFIX) or len(key) > MAX_SECRET:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(users).join(api_keys, api_keys.c.user_id == users.c.id)
                               .where(api_keys.c.digest == passwords.digest(key))).first()
            return None if row is None else self._principal(conn, row)

    # -- sessions ------------------------------------------------------------------------------

    def start_session(self, name: str) -> str:
        """A login session of settings.session_hours: the token for the cookie (only its hash is kept)."""
        token, t = passwords.new_token(), now()
        with writing(self.engine) as conn:
            uid = self._require(conn, name).id
            conn.execute(delete(sessions).where(sessions.c.expires <= t))  # housekeeping
            conn.execute(insert(sessions).values(digest=passwords.digest(token), user_id=uid, created=t,
                                                 expires=t + timedelta(hours=self.session_hours)))
        return token

    def session(self, token: str) -> Principal | None:
        if not isinstance(token, str) or not token or len(token) > MAX_SECRET:
            return None
        with self.engine.connect() as conn:
            found = conn.execute(select(users, sessions.c.expires).join(sessions, sessions.c.user_id == users.c.id)
                                 .where(sessions.c.digest == passwords.digest(token))).first()
            if found is None or found.expires <= now():
                return None
            return self._principal(conn, found)

    def end_session(self, token: str) -> None:
        if isinstance(token, str) and token and len(token) <= MAX_SECRET:
            with writing(self.engine) as conn:
                conn.execute(delete(sessions).where(sessions.c.digest == passwords.digest(token)))

    def end_sessions(self, name: str) -> int:
        """Logs the user out everywhere; how many sessions there were."""
        with writing(self.engine) as conn:
            uid = self._require(conn, name).id
            return int(conn.execute(delete(sessions).where(sessions.c.user_id == uid)).rowcount or 0)

    # -- for the server ------------------------------------------------------------------------

    def ensure_admin(self, name: str, password: str) -> Principal:
        """ASSISTANT_UI_USER/PASSWORD at server start: that admin exists with that password. The
        hash (and so the user's sessions) changes only when the password did."""
        check_user_name(name)
        check_password_text(password)
        with self.engine.connect() as conn:
            row = self._row(conn, name)
        if row is None:
            return self.add(name, Role.ADMIN, password)
        if row.role != Role.ADMIN.value:
            self.set_role(name, Role.ADMIN)
        if not passwords.verify_password(row.password_hash, password):
            self.passwd(name, password)
        principal = self.get(name)
        assert principal is not None
        return principal

    def create_reader(self, name: str) -> Principal:
        """A reader with no collections and no password (a proxy vouches for them); the existing
        user if the name is taken (two first requests at once)."""
        check_user_name(name)
        try:
            return self._create(name, Role.READER, None, frozenset(), frozenset())
        except AccountError:
            found = self.get(name)
            if found is None:
                raise
            return found

