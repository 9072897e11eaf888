"""The admin site. With ADMIN_REQUIRE_2FA (always on in production) every
staff user, Support and superusers alike, gets in only by proving a TOTP
device at login; a password alone, or a session that has only a password
behind it, reaches the login page and nothing else."""

from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError
from django.urls import path

from replica.selectors import replica_state
from staff.erasure import customer_erase_view
from staff.forms import StaffOtpLoginForm


def second_factor_required() -> bool:
    return settings.ADMIN_REQUIRE_2FA


class StaffAdminSite(admin.AdminSite):
    # Read per request, so tests can switch the setting.
    @property
    def login_form(self):
        return StaffOtpLoginForm if second_factor_required() else None

    @property
    def login_template(self):
        return "staff/login.html" if second_factor_required() else None

    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        if not second_factor_required():
            return True
        # django-otp's middleware sets is_verified(); without it, fail closed.
        is_verified = getattr(request.user, "is_verified", None)
        return bool(is_verified and is_verified())

    def index(self, request, extra_context=None):
        """The dashboard shows the Medusa replica's state to who may see
        its outbox."""
        extra_context = dict(extra_context or {})
        if request.user.has_perm("replica.view_change"):
            try:
                extra_context["replica"] = replica_state()
            except DatabaseError:
                pass  # the rest of the page still helps during an outage
        return super().index(request, extra_context)

    def get_urls(self):
        """The customer's erasure page (staff/erasure.py), before the
        ModelAdmin's catch-all `<object_id>/` patterns."""
        erase = path(
            "accounts/customer/<str:customer_id>/erase/",
            self.admin_view(
                lambda request, customer_id: customer_erase_view(
                    self, request, customer_id
                )
            ),
            name="accounts_customer_erase",
        )
        return [erase, *super().get_urls()]
