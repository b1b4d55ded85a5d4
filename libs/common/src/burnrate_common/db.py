"""The asyncpg pool (one schema per service) and the migration runner."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)

#: What handlers and stores receive: a plain connection or one borrowed from the pool.
Connection = asyncpg.Connection | PoolConnectionProxy


class RawJson(str):
    """A string that already is JSON text: stored as is, not encoded again."""

    __slots__ = ()


def _encode_json(value: Any) -> bytes:
    return (value if isinstance(value, RawJson) else json.dumps(value)).encode()


async def _init_connection(conn: Connection) -> None:
    # json and jsonb in and out as Python objects, in the binary format so COPY works too
    # (jsonb's binary form is a version byte, 1, then the text).
    await conn.set_type_codec(
        "json", encoder=_encode_json, decoder=json.loads, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + _encode_json(value),
        decoder=lambda data: json.loads(data[1:]),
        schema="pg_catalog",
        format="binary",
    )
    # asyncpg knows the codecs of text[] but looks every other array type up on first use,
    # per connection and per statement: ~12 ms each on a new connection, paid by whichever
    # request first runs the statement. One lookup of all the array types our statements
    # use, here, makes a new connection's first queries as fast as its later ones.
    await conn.prepare(_ARRAY_TYPES_WARM_UP)


#: Every array type a Burnrate statement passes or returns (``::uuid[]`` and the like).
_ARRAY_TYPES_WARM_UP = "SELECT " + ", ".join(
    f"${n}::{t}[]"
    for n, t in enumerate(
        ("uuid", "date", "timestamptz", "int", "bigint", "numeric", "json", "jsonb", "bool"),
        start=1,
    )
)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (advisory unlock, ``CLOSE ALL``,
    ``UNLISTEN *``, ``RESET ALL``): one more round trip on every release, a few per cent of
    a busy service's CPU. Pooled connections keep no session state here: locks are
    ``pg_advisory_xact_lock``, settings ``SET LOCAL``, temporary tables ``ON COMMIT DROP``,
    listeners remove themselves. asyncpg still rolls back an open transaction and drops
    the listener callbacks before this runs."""


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 2, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections see only ``schema`` (then ``public``) by default."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={
            "search_path": f"{schema},public",
            "application_name": f"burnrate-{schema}",
        },
    )
    assert pool is not None
    return pool


async def ensure_database(dsn: str) -> None:
    """Create the database named in ``dsn`` if it does not exist (development convenience)."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass  # another service created it first
        finally:
            await admin.close()
    else:
        await conn.close()


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(package: str, prefix: str) -> list[Migration]:
    """Numbered ``NNNN_name.sql`` files of a package's ``migrations`` folder, in order."""
    folder: Traversable = resources.files(package) / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(f"{prefix}/{f.name.removesuffix('.sql')}", f.read_text()) for f in files]


async def migrate(dsn: str, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply what is not applied yet, each migration in its own transaction.

    A session advisory lock keyed by the schema makes two replicas starting at once take
    turns; the second finds everything applied. A changed, already applied file is an error.
    """
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"burnrate-migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}", public')
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done: dict[str, Any] = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.version} changed after it was applied"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                    migration.version,
                    migration.checksum,
                )
            applied_now.append(migration.version)
            log.info("migration applied", extra={"version": migration.version, "schema": schema})
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"burnrate-migrate:{schema}")
        await conn.close()
    return applied_now
