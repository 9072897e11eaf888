"""PostgreSQL migration operations Django 5.2 has no field option for.

`DropLikeIndexes` drops Django's `*_like` indexes; `ForeignKeyDbCascade` makes
a foreign key `ON DELETE CASCADE` in the database itself.

## DropLikeIndexes

On PostgreSQL Django adds, next to the index of every indexed or unique
varchar column (primary keys and foreign keys included), a second index with
`varchar_pattern_ops` so that `LIKE 'abc%'` can use an index. Nothing here
filters with a left-anchored LIKE (admin search uses `icontains`, which no
B-tree serves), so those indexes are pure write cost: every insert updates
them, and the orphan sweep's audit rows and the loader paid for them
(docs/performance.md has the measurement).

Django re-creates a `_like` index when a later migration alters such a field
or creates a new model; run this operation again in that migration's app if
that matters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, cast

from django.apps.registry import Apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.ddl_references import Statement
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.fields import FieldOperation
from django.db.migrations.state import ProjectState
from django.db.models import ForeignKey, Model
from django.db.models.fields import Field


class _PostgresSchemaEditor(Protocol):
    """What these operations use of Django's PostgreSQL schema editor: its
    private methods too, which django-stubs leaves out (a Django upgrade that
    changes them breaks here first)."""

    connection: BaseDatabaseWrapper

    def execute(
        self, sql: Statement | str, params: Sequence[Any] | None = ()
    ) -> None: ...

    def quote_name(self, name: str) -> str: ...

    def _create_like_index_sql(
        self, model: type[Model], field: Field[Any, Any]
    ) -> Statement | None: ...

    def _create_index_name(
        self, table_name: str, column_names: list[str], suffix: str = ""
    ) -> str: ...

    def _delete_index_sql(self, model: type[Model], name: str) -> Statement: ...

    def _constraint_names(
        self,
        model: type[Model],
        column_names: list[str] | None = None,
        *,
        foreign_key: bool | None = None,
    ) -> list[str]: ...


def _postgres(schema_editor: BaseDatabaseSchemaEditor) -> _PostgresSchemaEditor | None:
    """The schema editor on PostgreSQL; None on any other database."""
    if schema_editor.connection.vendor != "postgresql":
        return None
    return cast(_PostgresSchemaEditor, schema_editor)


def _like_indexes(
    schema_editor: _PostgresSchemaEditor, apps: Apps, app_label: str
) -> Iterator[tuple[type[Model], Field[Any, Any], str]]:
    """(model, field, index name) of every `_like` index Django would make."""
    for model in apps.get_app_config(app_label).get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        for field in meta.local_fields:
            if field.column is None:
                continue  # no column of its own
            if schema_editor._create_like_index_sql(model, field) is None:
                continue
            name = schema_editor._create_index_name(
                meta.db_table, [field.column], suffix="_like"
            )
            yield model, field, name


class DropLikeIndexes(Operation):
    """Drop the `varchar_pattern_ops` indexes of the app's models (reversible:
    backwards re-creates them exactly as Django names them)."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        # Indexes Django adds implicitly are not part of the model state.
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        editor = _postgres(schema_editor)
        if editor is None:
            return
        for model, _, name in _like_indexes(editor, to_state.apps, app_label):
            editor.execute(editor._delete_index_sql(model, name))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        editor = _postgres(schema_editor)
        if editor is None:
            return
        for model, field, _ in _like_indexes(editor, to_state.apps, app_label):
            sql = editor._create_like_index_sql(model, field)
            if sql is not None:  # _like_indexes yields only fields that have one
                editor.execute(sql)

    def describe(self) -> str:
        return "Drop the varchar_pattern_ops (_like) indexes of the app's models"

    @property
    def migration_name_fragment(self) -> str:
        return "drop_like_indexes"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {})


class ForeignKeyDbCascade(FieldOperation):
    """Re-create the foreign key of `model_name.name` with ON DELETE CASCADE
    (still DEFERRABLE INITIALLY DEFERRED, as Django makes it).

    Django's own `on_delete=CASCADE` runs in Python and leaves the database
    constraint NO ACTION, whose check costs PostgreSQL two lookups per deleted
    parent row; a database cascade costs one (the orphan sweep deletes a
    thousand identities a batch: docs/performance.md). It changes nothing
    for the ORM, which deletes dependents itself first, and it is what the
    model already says. The sweep keeps deleting dependents explicitly, so a
    later migration that re-creates the constraint without the cascade (an
    AlterField of this foreign key does) costs speed, never correctness;
    tests/orphans/test_sweep_schema.py notices it.
    """

    reversible = True

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._recreate(schema_editor, to_state.apps, app_label, cascade=True)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._recreate(schema_editor, to_state.apps, app_label, cascade=False)

    def _recreate(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        apps: Apps,
        app_label: str,
        *,
        cascade: bool,
    ) -> None:
        editor = _postgres(schema_editor)
        if editor is None:
            return
        model = apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        if not isinstance(field, ForeignKey):
            raise TypeError(f"{self.model_name}.{self.name} is not a foreign key")
        target = field.target_field
        if target.column is None:
            raise TypeError(f"{self.model_name}.{self.name} points at no column")
        names = editor._constraint_names(model, [field.column], foreign_key=True)
        if len(names) != 1:
            raise ValueError(f"expected one foreign key on {field.column}: {names}")
        q = editor.quote_name
        table, name = q(model._meta.db_table), q(names[0])
        on_delete = " ON DELETE CASCADE" if cascade else ""
        # NOT VALID, then VALIDATE: the rows are checked without blocking
        # writes for the whole scan.
        editor.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
            f"ADD CONSTRAINT {name} FOREIGN KEY ({q(field.column)}) "
            f"REFERENCES {q(target.model._meta.db_table)} ({q(target.column)})"
            f"{on_delete} DEFERRABLE INITIALLY DEFERRED NOT VALID"
        )
        editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")

    def describe(self) -> str:
        return f"ON DELETE CASCADE in the database for {self.model_name}.{self.name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name_lower}_{self.name_lower}_db_cascade"
