from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = "Staff login"


class StaffAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with our site as `admin.site`: every app's
    ModelAdmin (ours, auth's, axes', django-otp's, beat's) registers on it."""

    default = False  # named in full in INSTALLED_APPS; "staff" is StaffConfig
    default_site = "staff.admin_site.StaffAdminSite"
