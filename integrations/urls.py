"""Mounted at /webhooks/ by jlf/urls.py (notifications mounts its own status webhooks there too)."""

from django.urls import path

from . import webhooks

app_name = "integrations"

urlpatterns = [
    path("stripe/", webhooks.stripe_webhook, name="stripe-webhook"),
    path("acuity/", webhooks.acuity_webhook, name="acuity-webhook"),
]
