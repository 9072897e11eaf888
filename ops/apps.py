from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


class OpsConfig(AppConfig):
    """Operations wiring across the apps: the beat schedule, the Support
    group, the audited beat admin and /metrics."""

    default_auto_field = "django.db.models.BigAutoField"

    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # After every migrate, once every app's permissions exist (ops comes
        # after them in INSTALLED_APPS): the group's permissions follow the
        # code, and a permission of a model added later is there to give.
        post_migrate.connect(_support_group_install, sender=self)


def _support_group_install(sender, apps=global_apps, **kwargs) -> None:
    # migrate passes its historical models; a flush (tests) passes none.
    from ops.support import support_group_install

    support_group_install(
        apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    )
