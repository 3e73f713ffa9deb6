"""One-row reads for the fast path, straight through the database driver's connection.

Django's cursor wrappers cost more than a primary-key or unique-index read itself; outside a
transaction nothing they add is needed. Inside one (tests, management commands), the normal
cursor is used, so what is read is what the transaction sees."""

import threading
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

_thread = threading.local()
_driver_sql: dict[tuple[str, str], str] = {}


def fetch_one(sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Run `sql` (with %s placeholders) and return its first row."""
    database = getattr(_thread, "database", None)
    if database is None:
        database = _thread.database = connections[DEFAULT_DB_ALIAS]
    if database.connection is None or database.in_atomic_block:
        with database.cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
    statement = _driver_sql.get((database.vendor, sql))
    if statement is None:
        statement = sql.replace("%s", "?") if database.vendor == "sqlite" else sql
        _driver_sql[(database.vendor, sql)] = statement
    try:
        row = database.connection.execute(statement, params).fetchone()
    except database.Database.Error as error:  # type: ignore[union-attr]
        database.close()  # a broken connection is opened again on the next read
        raise DatabaseError(str(error)) from error
    return row
