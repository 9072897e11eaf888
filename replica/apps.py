from django.apps import AppConfig


class ReplicaConfig(AppConfig):
    name = "replica"
    verbose_name = "Medusa replica"

    def ready(self) -> None:
        from replica import signals

        signals.connect()
