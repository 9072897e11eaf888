from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest
from django.utils.functional import cached_property

if TYPE_CHECKING:
    # The stubs make these generic; Django's classes take no type arguments
    # at run time (that would need django_stubs_ext.monkeypatch() at startup).
    _ModelAdmin = admin.ModelAdmin[Any]
    _Paginator = Paginator[Any]
else:
    _ModelAdmin = admin.ModelAdmin
    _Paginator = Paginator

# Hashes staff never read: not on a page, and not one character at a time
# through a changelist filter in the URL (?password_hash__startswith=...).
SECRET_FIELDS = frozenset({"password_hash", "code_hash", "token_hash"})


class ReadOnlyAdmin(_ModelAdmin):
    """Rows staff read but never edit by hand: changes go through services
    (and their audit), never through a raw model form."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if SECRET_FIELDS.intersection(lookup.split(LOOKUP_SEP)):
            return False  # Django answers 400
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return False


class EstimatedCountPaginator(_Paginator):
    """Counts a large unfiltered table from PostgreSQL's statistics
    (`pg_class.reltuples`, kept by autovacuum's ANALYZE): COUNT(*) reads every
    row, 0.1 to 0.3 s at a million. Filtered lists and small tables are
    counted exactly. Right after a large sweep or import, before autovacuum
    analyzes the table again, the estimate can be off by the rows that came
    or went: the last pages then end early or come out empty (sorting the
    other way reaches the oldest rows)."""

    exact_below = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet) and not rows.query.where:
            with connections[rows.db].cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [rows.model._meta.db_table],
                )
                row = cursor.fetchone()
            estimate = int(row[0]) if row is not None else -1  # -1: never analyzed
            if estimate >= self.exact_below:
                return estimate
        return super().count


class LargeTableAdmin(_ModelAdmin):
    """A list over a table that grows to millions of rows
    (docs/performance.md). Search matches whole values only (an id, an
    email in any case), each found through an index: Django's `icontains`
    over several fields and joins reads the whole table (5 s for one
    search at a million identities). Subclasses say what a term matches in
    `search_q`; `search_fields` only makes Django show the search box."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False  # a second COUNT(*) of the whole table
    show_facets = admin.ShowFacets.NEVER  # a COUNT(*) per filter choice
    search_help_text = "A whole id or email address (any case)."

    def search_q(self, term: str) -> Q:
        raise NotImplementedError

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.search_q(term)), False


def whole_list_refused(
    model_admin: _ModelAdmin, request: HttpRequest, why: str
) -> bool:
    """True (and `why` shown as an error) when the action was asked for
    every row of the list ("Select all N"), not the rows on the page: an
    action that loads and changes each row has no business with millions."""
    # As Django reads it (a BooleanField: "1", "on", "true" ... all say yes).
    form = model_admin.action_form(request.POST, auto_id=None)
    form.full_clean()
    if not form.cleaned_data.get("select_across"):
        return False
    model_admin.message_user(request, why, messages.ERROR)
    return True
