"""Mounted at the site root by jlf/urls.py: provider webhooks under /webhooks/, attendee pages
under /n/."""

from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("webhooks/resend/", views.resend_webhook, name="resend-webhook"),
    path("webhooks/twilio/status/", views.twilio_status_webhook, name="twilio-status"),
    path("webhooks/twilio/inbound/", views.twilio_inbound_webhook, name="twilio-inbound"),
    path("n/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("n/status/<str:token>/", views.status_page, name="status"),
]
