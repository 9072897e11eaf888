from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The storefront's HTTP contract (Medusa-compatible routes and ours)."""

    name = "api"
    verbose_name = "Storefront API"

    def ready(self) -> None:
        from api import cors  # noqa: F401  (connects the CORS signal)
