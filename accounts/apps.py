from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customer accounts"

    def ready(self) -> None:
        from accounts import cors  # noqa: F401  (connects the CORS signal)
