"""Model instances from hand-written SELECTs, for the few reads every
request makes (a token's identity, a customer's addresses), and their
values for a hand-written INSERT (a code's challenge, a login's session).

Building and compiling a queryset costs more Python than the query costs
PostgreSQL: for `GET /store/customers/me` the ORM's query building was over
half of the request's CPU (docs/performance.md, "Against the peers"). A
`ModelRows` reads the model's own field list once, so the SQL written with
it names every column; `instance()` turns a row's slice back into the model
with the converters the ORM would apply (JSON fields parsed, and so on),
so callers get the same objects a queryset gives them.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]


class ModelRows(Generic[M]):
    """`columns`: the model's concrete columns qualified by `alias`, for a
    SELECT list; `width`: how many; `instance(row, start)`: the model from
    `row[start:start + width]`, or None when its primary key is NULL (the
    missing side of a LEFT JOIN)."""

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self.columns = ", ".join(f'{alias}."{field.column}"' for field in fields)
        # For an INSERT: the bare column names, and as many placeholders.
        self.names = ", ".join(f'"{field.column}"' for field in fields)
        self.placeholders = ", ".join(["%s"] * len(fields))
        self._insert_sql = (
            f'INSERT INTO "{model._meta.db_table}" ({self.names}) '  # noqa: S608
            f"VALUES ({self.placeholders})"
        )
        self.width = len(fields)
        self.attnames = [field.attname for field in fields]
        self._pk_index = next(i for i, field in enumerate(fields) if field.primary_key)
        self._fields = fields
        self._alias = alias
        self._converters: list[tuple[int, list[Converter], Any]] | None = None

    def converters(self) -> list[tuple[int, list[Converter], Any]]:
        # As SQLCompiler.get_converters, once per process (one database).
        if self._converters is None:
            found = []
            for i, field in enumerate(self._fields):
                column = field.get_col(self._alias)
                functions = connection.ops.get_db_converters(
                    column
                ) + column.get_db_converters(connection)
                if functions:
                    found.append((i, functions, column))
            self._converters = found
        return self._converters

    def values(self, obj: M) -> list[Any]:
        """`obj`'s column values for an INSERT (`names`, `placeholders`),
        prepared as the ORM's save prepares them (pre_save: auto_now and
        the like). No signals are sent."""
        return [
            field.get_db_prep_save(field.pre_save(obj, add=True), connection)
            for field in self._fields
        ]

    def insert(self, obj: M) -> M:
        """INSERT `obj` in one statement, without the ORM's save: no
        signals, and every column's value from Python (`values`), so only
        for models whose primary key and defaults Python fills (no
        AutoField, no db_default-only field)."""
        if obj.pk is None:
            raise ValueError(f"{self.model.__name__}: no primary key to insert")
        with connection.cursor() as cursor:
            cursor.execute(self._insert_sql, self.values(obj))
        return self.inserted(obj)

    def inserted(self, obj: M) -> M:
        """Mark `obj` saved after a hand-written INSERT of `values(obj)`."""
        obj._state.adding = False
        obj._state.db = connection.alias
        return obj

    def instance(self, row: Sequence[Any], start: int = 0) -> M | None:
        values = list(row[start : start + self.width])
        if values[self._pk_index] is None:
            return None
        for i, functions, column in self.converters():
            for convert in functions:
                values[i] = convert(values[i], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def one_row(
    sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row `sql` returns, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
    return row


def all_rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
