from django.db import models


class BareEvent(models.Model):
    event_id = models.CharField(max_length=255, unique=True)
    body = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.event_id
