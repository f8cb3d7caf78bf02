"""PostgreSQL store: a team's shared mock, its state in a database server, served by replicas.

Every state the mock keeps (the default one, and each ``X-Mock-Session``'s) is a set of rows in
the same tables, told apart by a ``state`` column. Each transaction takes a transaction-scoped
advisory lock on its state before its first read, so a check and the write that depends on it
(the balance bound, a debit's remainder, the escrow) cannot interleave with another
transaction on that state, in this process or in any other replica: the same guarantee as
SQLite's write lock, without retries. States do not wait for each other. (Serializable
transactions would let transactions on one state run together, but a conflict would have to be
retried by re-running the request's use case, which the ``Store`` interface does not hand the
store; under the mock's load a state's transactions are short, and one at a time is enough.)

Connections come from one pool per database and process (``psycopg_pool``), shared by every
state: a mock with 200 sessions holds at most ``POOL_SIZE`` connections. A state's transactions
wait for each other anyway, so a process takes at most one pooled connection per state at a
time: the other requests of a session held by a long transaction (a big seed, an export) wait
for it without a connection, so the other sessions keep theirs. Every wait is bounded by
``REQUEST_WAIT_S`` (the advisory lock by ``lock_timeout``), then answered 503 "busy"; a
database that cannot be reached is 503 "cannot be reached".

The tables are made on first start, in one transaction under an advisory lock, so replicas
starting together do not race; a database whose schema is newer than this code knows is
refused with one line.
"""

from __future__ import annotations

import re
import select
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from mock_server.store import (
    SessionGone,
    SessionLimitReached,
    StoreBusy,
    StoreError,
    StoreUnavailable,
)
from mock_server.store.sql import (
    Connection,
    Dialect,
    Runner,
    SqlStore,
    SqlTransaction,
    Statement,
    Statements,
)

SCHEMA_VERSION = 2
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS refund_mock_schema (version integer NOT NULL)",
    """CREATE TABLE IF NOT EXISTS refund_mock_records (
        state text NOT NULL,
        kind  text NOT NULL,
        key   text NOT NULL,
        body  text NOT NULL,
        PRIMARY KEY (state, kind, key)
    )""",
    # Text compared as Python compares it (by code point): COLLATE "C".
    """CREATE TABLE IF NOT EXISTS refund_mock_listings (
        position   bigserial PRIMARY KEY,
        state      text NOT NULL,
        kind       text NOT NULL,
        owner      text NOT NULL,
        key        text NOT NULL,
        sort_value text COLLATE "C"
    )""",
    "CREATE INDEX IF NOT EXISTS refund_mock_listings_sorted"
    " ON refund_mock_listings (state, kind, owner, sort_value, position)",
    "CREATE INDEX IF NOT EXISTS refund_mock_listings_by_key"
    " ON refund_mock_listings (state, kind, key)",
    # A listing's size, kept as rows are added, so a page does not count the whole listing.
    """CREATE TABLE IF NOT EXISTS refund_mock_listing_counts (
        state text NOT NULL,
        kind  text NOT NULL,
        owner text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (state, kind, owner)
    )""",
    "CREATE TABLE IF NOT EXISTS refund_mock_sessions (name text PRIMARY KEY)",
    # Which life of a session a store opened: a session deleted and made again is a new one,
    # and a store of the old one refuses to write into it (SessionGone).
    "CREATE SEQUENCE IF NOT EXISTS refund_mock_session_generations",
    "ALTER TABLE refund_mock_sessions ADD COLUMN IF NOT EXISTS generation bigint NOT NULL"
    " DEFAULT nextval('refund_mock_session_generations')",
    # When each session was last used (a timestamp), by any replica: --session-expire.
    "ALTER TABLE refund_mock_sessions ADD COLUMN IF NOT EXISTS used_at double precision",
    # Faults set through the control API, applied by every replica (postgresql_faults.py).
    """CREATE TABLE IF NOT EXISTS refund_mock_faults (
        session   text NOT NULL,
        api       text NOT NULL,
        operation text NOT NULL,
        fault     text NOT NULL,
        queued    integer[] NOT NULL,
        PRIMARY KEY (api, operation, session)
    )""",
)
SCHEMA_LOCK = 0x7EF0_0D5C  # the advisory lock replicas take to make the tables
SESSIONS_LOCK = 0x7EF0_5E55  # taken to count the sessions and add one, as one step
POOL_SIZE = 8  # connections per process; transactions are short
CONNECT_TIMEOUT_S = 3
REQUEST_WAIT_S = 4.0  # each wait (this state's turn, a pooled connection, a lock) at most
DEFAULT_STATE = ""
GENERATION = "SELECT generation FROM refund_mock_sessions WHERE name = %s"
# A record's JSON as PostgreSQL reads a field of it. Its json type refuses the escape \u0000
# (NUL, which a description may hold) anywhere in the document it reads a field from, so that
# escape is read as \ufffd: a same-shaped escape, so the text stays valid JSON whatever comes
# before it, and a change only to a field that held NUL (never one the mock filters or sorts on:
# statuses and times are the mock's own values).
BODY_JSON = "replace(r.body, '\\u0000', '\\ufffd')::json"


def check_url(url: str) -> None:
    """Refuse a URL that carries a password: it would show in ``ps`` and in logs."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"--store {url!r} is not a PostgreSQL URL: {exc}") from None
    if parts.get("password"):
        raise StoreError(
            "--store must not carry the password (it would show in ps and in logs): "
            "give it in PGPASSWORD, or in the file ~/.pgpass or PGPASSFILE names"
        )


class PostgresDialect(Dialect):
    """Every state in the same tables, told apart by a ``state`` column."""

    mark = "%s"
    records, listings, counts = (
        "refund_mock_records",
        "refund_mock_listings",
        "refund_mock_listing_counts",
    )
    scoped = True
    owners = "array_agg(l.owner ORDER BY l.position)"

    def field(self) -> str:
        return f'({BODY_JSON} ->> {self.mark}) COLLATE "C"'

    def field_argument(self, field: str) -> str:
        return field

    def decode_owners(self, aggregated: Any) -> list[str]:
        return list(aggregated)

    def to_text(self, value: str) -> str:
        """PostgreSQL text cannot hold NUL, which a path parameter can (``/accounts/a%00b``):
        NUL is written ``\\0`` and a backslash doubled."""
        if "\x00" not in value and "\\" not in value:
            return value
        return value.replace("\\", "\\\\").replace("\x00", "\\0")

    def from_text(self, stored: str) -> str:
        if "\\" not in stored:
            return stored
        return re.sub(r"\\(.)", lambda m: "\x00" if m.group(1) == "0" else m.group(1), stored)


DIALECT = PostgresDialect()
STATEMENTS = Statements(DIALECT)


class PostgresStore(SqlStore):
    def __init__(
        self, url: str, state: str = DEFAULT_STATE, max_sessions: int | None = None
    ) -> None:
        """The store of ``state``; a session's is made if it does not exist, unless
        ``max_sessions`` exist already (SessionLimitReached), counted across replicas."""
        super().__init__()
        check_url(url)
        self.url = url
        self.state = state
        if state == DEFAULT_STATE:
            pool_for(url)  # the database is there, its tables made: or StoreError, at start-up
        else:
            with reachable(url):  # a session opened while the database is down: a 503
                pool_for(url)
        self._lock_key = _lock_key(state)
        self._turn = threading.Lock()  # this process's one transaction on this state
        self._generation: int | None = None  # the session's life this store writes into
        if state != DEFAULT_STATE:
            with self._held() as tx:
                tx.flush()  # BEGIN and the lock, before the statements run straight on db
                self._generation = _open_session(tx.db, state, max_sessions)

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self._held() as tx:
            yield tx

    @contextmanager
    def _held(self) -> Iterator[SqlTransaction]:
        """A transaction on this state. A database that went away (restarted, failed over)
        is a StoreUnavailable; the pool drops the broken connections and makes new ones, so
        the store recovers by itself once the server is back."""
        if not self._turn.acquire(timeout=REQUEST_WAIT_S):
            raise StoreBusy(self._busy())
        try:
            with reachable(self.url), self._locked() as tx:
                yield tx
        finally:
            self._turn.release()

    def _busy(self) -> str:
        held = f"session {self.state!r}" if self.state else "the default state"
        return (
            f"The mock's database is busy: {held} was held by other requests for more than"
            f" {REQUEST_WAIT_S:g} s (a long seed or export?); nothing was done, send it again"
        )

    @contextmanager
    def _locked(self) -> Iterator[SqlTransaction]:
        """A pooled connection in a transaction holding this state's lock, committed at the
        end (rolled back on an exception). BEGIN and the lock are sent with the transaction's
        first read, so a connection the server closed since it was last used (it restarted)
        is dropped before anything is sent, and the next one tried: a restart costs no
        request once the server is up."""
        for _ in range(POOL_SIZE + 1):
            with pool_for(self.url).connection() as db:
                if _closed_by_server(db):
                    db.close()  # the pool makes a new one in its place
                    continue
                tx = SqlTransaction(
                    db, _runner(db), STATEMENTS, self.state, self._listings, *self._start()
                )
                try:
                    yield tx
                    tx.commit(("COMMIT", ()))
                except psycopg.errors.UniqueViolation as exc:
                    db.execute("ROLLBACK")
                    if exc.diag.table_name != DIALECT.records:
                        raise
                    raise tx.taken() from None  # a key taken, found as it was written
                except psycopg.errors.LockNotAvailable:
                    db.execute("ROLLBACK")
                    raise StoreBusy(self._busy()) from None  # held by another replica
                except BaseException:
                    if not db.broken and db.info.transaction_status != TransactionStatus.IDLE:
                        db.execute("ROLLBACK")
                    raise
                return
        raise psycopg.OperationalError("every pooled connection was broken")

    def _start(self) -> tuple[list[Statement], Callable[[list[list[Any]]], None] | None]:
        """What a transaction sends first: BEGIN, this state's lock (waited for at most
        REQUEST_WAIT_S) and, for a session, which life of it is stored, checked as it comes."""
        start: list[Statement] = [
            ("BEGIN", ()),
            ("SELECT set_config('lock_timeout', %s, true)", (f"{int(REQUEST_WAIT_S * 1000)}ms",)),
            ("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,)),
        ]
        if self._generation is None:
            return start, None
        start.append((GENERATION, (self.state,)))
        return start, self._check_generation

    def _check_generation(self, results: list[list[Any]]) -> None:
        stored = results[-1]
        if not stored or stored[0][0] != self._generation:
            raise SessionGone(f"session {self.state!r} was deleted")

    def close(self) -> None:
        """Nothing of its own to release: the pool serves the process's other states too."""

    def destroy(self) -> None:
        """Remove this state's rows (and, for a session, its name)."""
        remove_session(self.url, self.state)


def _closed_by_server(db: psycopg.Connection[Any]) -> bool:
    """Whether the server closed an idle pooled connection (it restarted, or ended the
    backend): an idle connection is sent nothing, so anything to read says so. Asked without
    a round trip, before a transaction is sent on it."""
    poller = select.poll()
    poller.register(db.fileno(), select.POLLIN)
    return bool(poller.poll(0))


@contextmanager
def reachable(url: str) -> Iterator[None]:
    """A database that went away, said as StoreUnavailable (503), not as a crash (500).

    A pool that could not hand out a connection is dropped: the next request makes a new one,
    which connects at once, where the old pool would wait out its growing reconnection delay
    (after a minute's outage, longer than a request waits)."""
    try:
        yield
    except psycopg.errors.LockNotAvailable as exc:  # lock_timeout: held by a long transaction
        raise StoreBusy(
            f"The mock's database is busy: a lock was held for more than {REQUEST_WAIT_S:g} s"
            " (a long seed or export?); nothing was done, send it again"
        ) from exc
    except PoolTimeout as exc:
        if _pool_in_use(url):  # every connection serving other requests: busy, not away
            raise StoreBusy(
                f"The mock's database is busy: all {POOL_SIZE} connections of this replica"
                f" were in use for more than {REQUEST_WAIT_S:g} s; nothing was done, send it"
                " again"
            ) from exc
        _drop_pool(url)
        raise StoreUnavailable(f"The mock's database cannot be reached: {exc}") from exc
    except (psycopg.OperationalError, StoreError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StoreUnavailable(f"The mock's database cannot be reached: {reason}") from exc


def stored_sessions(url: str) -> list[str]:
    with reachable(url), pool_for(url).connection() as db:
        rows = db.execute(
            'SELECT name FROM refund_mock_sessions ORDER BY name COLLATE "C"'
        ).fetchall()
    return [name for (name,) in rows]


def session_stored(url: str, session: str) -> bool:
    with reachable(url), pool_for(url).connection() as db:
        row = db.execute("SELECT 1 FROM refund_mock_sessions WHERE name = %s", (session,))
        return row.fetchone() is not None


def stamp_session(url: str, session: str, at: float) -> None:
    """Session ``session`` was used at ``at`` (its last use only moves forward)."""
    with reachable(url), pool_for(url).connection() as db:
        db.execute(
            "UPDATE refund_mock_sessions SET used_at = greatest(used_at, %s) WHERE name = %s",
            (at, session),
        )


def unused_sessions(url: str, before: float, now: float) -> list[str]:
    """The sessions last used before ``before``; one never stamped is stamped ``now``."""
    with reachable(url), pool_for(url).connection() as db:
        db.execute("UPDATE refund_mock_sessions SET used_at = %s WHERE used_at IS NULL", (now,))
        rows = db.execute(
            'SELECT name FROM refund_mock_sessions WHERE used_at < %s ORDER BY name COLLATE "C"',
            (before,),
        ).fetchall()
    return [name for (name,) in rows]


def remove_session(url: str, session: str) -> None:
    """Forget a state: its rows, and its name among the sessions."""
    with reachable(url), pool_for(url).connection() as db, db.transaction():
        db.execute(f"SET LOCAL lock_timeout = '{int(REQUEST_WAIT_S * 1000)}ms'")
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(session),))
        _delete_state(db, session)
        db.execute("DELETE FROM refund_mock_sessions WHERE name = %s", (session,))


def _open_session(db: Connection, name: str, max_sessions: int | None) -> int:
    """The generation of session ``name``, made now if it does not exist (within the limit)."""
    found = db.execute(GENERATION, (name,)).fetchone()
    if found is not None:
        return int(found[0])
    db.execute("SELECT pg_advisory_xact_lock(%s)", (SESSIONS_LOCK,))
    if max_sessions is not None:
        (count,) = db.execute("SELECT count(*) FROM refund_mock_sessions").fetchone() or (0,)
        if count >= max_sessions:
            raise SessionLimitReached(max_sessions)
    made = db.execute(
        "INSERT INTO refund_mock_sessions (name) VALUES (%s) RETURNING generation", (name,)
    ).fetchone()
    assert made is not None
    # Whatever a store of the session's earlier life left (a write that raced its deletion)
    # is not this life's: it starts empty, and gets the start fixtures.
    _delete_state(db, name)
    return int(made[0])


def _delete_state(db: Connection, state: str) -> None:
    for statement in STATEMENTS.delete:
        db.execute(statement, (state,))


def _runner(db: psycopg.Connection[Any]) -> Runner:
    """Statements sent as one query string, their values bound here (psycopg's client-side
    binding): one round trip, and one wait for it, whatever their number. (A pipeline sends
    them in one round trip too, but waits on the socket once per statement, which costs more
    than the round trip it saves when many requests share a process.)"""
    cursor = psycopg.ClientCursor(db)

    def run(statements: Sequence[Statement]) -> list[list[Any]]:
        if not statements:
            return []
        cursor.execute(
            "; ".join(sql for sql, _ in statements),
            [value for _, values in statements for value in values],
        )
        results: list[list[Any]] = []
        while True:
            results.append(cursor.fetchall() if cursor.description is not None else [])
            if not cursor.nextset():
                return results

    return run


def _lock_key(state: str) -> int:
    """The advisory lock of a state: a 32-bit hash (two states rarely share one, and sharing
    one only makes them wait for each other)."""
    return zlib.crc32(f"refund-mock:{state}".encode())


# One pool per database and process ----------------------------------------------------------

_POOLS: dict[str, ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()
_POOL_HOLDERS: Counter[str] = Counter()  # backends using each pool (an app each)
_SCHEMA_MADE: set[str] = set()  # databases whose tables this process made or found


def pool_for(url: str) -> ConnectionPool:
    """The process's pool for the database at ``url``, opened (and its tables made) on first
    use; StoreError when the database cannot be reached."""
    with _POOLS_LOCK:
        pool = _POOLS.get(url)
        if pool is None:
            pool = ConnectionPool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
                timeout=REQUEST_WAIT_S,  # how long a request waits for a connection
                open=False,
            )
            try:
                # One connection first: its error says why (no such host, refused, password).
                psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
                pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
                if url not in _SCHEMA_MADE:  # at start-up; a pool made again after an outage
                    _make_schema(pool)  # must not wait behind a long transaction's locks
                    _SCHEMA_MADE.add(url)
            except (psycopg.Error, TimeoutError) as exc:  # PoolTimeout is a TimeoutError
                pool.close()
                reason = " ".join(str(exc).split())  # one line
                raise StoreError(f"cannot open the PostgreSQL store {url!r}: {reason}") from None
            _POOLS[url] = pool
        return pool


def _pool_in_use(url: str) -> bool:
    """Whether a pool that lent no connection in time is busy (the database answers) rather
    than unable to reach its database: asked once, outside the pool, only then."""
    return unreachable(url) is None


def unreachable(url: str) -> str | None:
    """Why the database at ``url`` cannot be reached now (one line), None if it answers: a
    connection of its own, so a pool busy with long transactions does not count as down."""
    try:
        with psycopg.connect(url, connect_timeout=1) as db:
            db.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def _drop_pool(url: str) -> None:
    with _POOLS_LOCK:
        pool = _POOLS.pop(url, None)
    if pool is not None:
        pool.close(timeout=0)


def hold_pool(url: str) -> None:
    """A backend of this process uses the database's pool (opened when first needed)."""
    with _POOLS_LOCK:
        _POOL_HOLDERS[url] += 1


def release_pool(url: str) -> None:
    """A backend is done with it: the pool closes once the last one is."""
    with _POOLS_LOCK:
        _POOL_HOLDERS[url] -= 1
        if _POOL_HOLDERS[url] > 0:
            return
        del _POOL_HOLDERS[url]
        pool = _POOLS.pop(url, None)
    if pool is not None:
        pool.close()


def _schema_current(db: psycopg.Connection[Any]) -> bool:
    """Whether the tables are there as this version makes them: then start-up changes nothing
    (``ALTER TABLE`` would take a lock that waits behind any long transaction)."""
    row = db.execute(
        "SELECT to_regclass('refund_mock_schema') IS NOT NULL AND EXISTS (SELECT 1 FROM"
        " pg_attribute WHERE attrelid = to_regclass('refund_mock_sessions')"
        " AND attname = 'generation' AND NOT attisdropped)"
    ).fetchone()
    if row is None or not row[0]:
        return False
    version = db.execute("SELECT max(version) FROM refund_mock_schema").fetchone()
    return version is not None and version[0] == SCHEMA_VERSION


def _make_schema(pool: ConnectionPool) -> None:
    with pool.connection() as db, db.transaction():
        if _schema_current(db):
            return
        db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for statement in SCHEMA:
            db.execute(statement)
        row = db.execute("SELECT max(version) FROM refund_mock_schema").fetchone()
        version = row[0] if row is not None else None
        if version is None:
            db.execute("INSERT INTO refund_mock_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
        elif version < SCHEMA_VERSION:  # the statements above brought it up to this version
            db.execute("UPDATE refund_mock_schema SET version = %s", (SCHEMA_VERSION,))
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"the database holds the mock's schema version {version}, newer than this "
                f"mock's {SCHEMA_VERSION}: run the newer refund-contract-kit on it"
            )
