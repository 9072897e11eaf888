from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class OrphansConfig(AppConfig):
    name = "orphans"
    verbose_name = "Orphaned auth identities"

    def ready(self) -> None:
        from django.conf import settings

        from core.durations import duration_parse

        # A live registration token must never point at a sweepable identity:
        # the token would outlive the row it names.
        max_age = duration_parse(settings.ORPHAN_MAX_AGE)
        if settings.JWT_EXPIRES_IN > max_age:
            raise ImproperlyConfigured(
                f"JWT_EXPIRES_IN ({settings.JWT_EXPIRES_IN}) must not exceed "
                f"ORPHAN_MAX_AGE ({settings.ORPHAN_MAX_AGE})"
            )
