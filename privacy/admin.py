"""The erasure audit, read-only. Erasing is a page of the customer
(staff/erasure.py): this list is its history."""

from django.contrib import admin
from django.db.models import Q

from core.admin import LargeTableAdmin, ReadOnlyAdmin
from core.emails import email_hash
from privacy.models import Erasure


@admin.register(Erasure)
class ErasureAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ("customer_id", "erased_at", "actor", "proof", "staff_username")
    list_filter = ("actor",)
    search_fields = ("customer_id",)
    search_help_text = "A customer id, or the email address (matched by its HMAC)."
    ordering = ("-erased_at",)
    fields = (
        "customer_id",
        "email_hash",
        "erased_at",
        "actor",
        "proof",
        "staff_user",
        "staff_username",
    )
    readonly_fields = fields

    def search_q(self, term: str) -> Q:
        return Q(customer_id=term) | Q(email_hash=email_hash(term))
