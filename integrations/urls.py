"""Mounted at /webhooks/ by jlf/urls.py (notifications mounts its own status webhooks there too)."""

from django.urls import path, re_path

from . import webhooks

app_name = "integrations"

# The trailing slash is optional: an endpoint typed into Stripe's or Acuity's dashboard without
# it would otherwise get Django's 301, which providers count as a failed delivery (every one).
urlpatterns = [
    path("stripe/", webhooks.stripe_webhook, name="stripe-webhook"),
    path("acuity/", webhooks.acuity_webhook, name="acuity-webhook"),
    re_path(r"^stripe$", webhooks.stripe_webhook),
    re_path(r"^acuity$", webhooks.acuity_webhook),
]
