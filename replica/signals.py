"""A hint, not the record: the outbox rows come from database triggers
(migration 0001), and beat's drain every minute applies whatever a hint
missed (a queryset update, raw SQL). The hint only makes a change made
through the ORM reach Medusa within a second."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from accounts.models import Customer, CustomerAddress


def _changed(sender, **kwargs) -> None:
    from replica.services.kick import drain_kick

    transaction.on_commit(drain_kick)


def connect() -> None:
    for model in (Customer, CustomerAddress):
        for signal in (post_save, post_delete):
            signal.connect(
                _changed, sender=model, dispatch_uid=f"replica_{model.__name__}"
            )
