"""A mapping added anywhere (admin, import, ops page) replays the signals waiting for it."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import EventMapping


@receiver(post_save, sender=EventMapping)
def replay_on_mapping(sender, instance: EventMapping, raw=False, **kwargs):
    from .services import replay_saved_mapping, replays_itself

    if raw or replays_itself():
        return  # ``services.add_mapping`` replays right after, as the operator, and counts it

    kind, value = instance.kind, instance.value
    transaction.on_commit(lambda: replay_saved_mapping(kind, value))
